import { isInteger, parse as parseLossless } from "lossless-json";
import { InvalidArgumentError } from "../../errors.js";

/**
 * Whether the body may hold a number JSON.parse would not keep exactly: 16+ digits in a row (an integer
 * maybe beyond 2^53, or a long fraction, which is harmless), or an integer written as a float (`1.0`,
 * `2.00`, `1e0`, `15E-1`), which TF Serving refuses for int64 ids, so the literal must be seen: a digit
 * followed by `.0…0` and no other digit, or by an exponent. False positives (in strings) only cost the
 * slower lossless parse. On the UTF-8 bytes (ASCII digits, points and exponents are the same bytes):
 * points and exponents found by indexOf, and every run of 16+ digits covers an index ≡ 15 (mod 16), so
 * only those indices are looked at. Several times faster than the regex and per-character scans it
 * replaced, which cost more than JSON.parse on a batch-64 body (bench/results/2026-12-07-float-format.md).
 */
export function needsLosslessParse(body: Uint8Array): boolean {
  for (let i = body.indexOf(46); i >= 0; i = body.indexOf(46, i + 1)) {
    if (i === 0 || !isDigit(body[i - 1])) continue;
    let j = i + 1;
    while (body[j] === 48) j++;
    if (j > i + 1 && !isDigit(body[j])) return true; // a digit, then .0…0 and no digit
  }
  for (const e of [101, 69])
    for (let i = body.indexOf(e, 1); i >= 0; i = body.indexOf(e, i + 1))
      if (isDigit(body[i - 1])) return true;
  for (let i = 15; i < body.length; i += 16) {
    if (!isDigit(body[i])) continue;
    let start = i;
    while (start > 0 && isDigit(body[start - 1])) start--;
    let end = i + 1;
    while (end < body.length && isDigit(body[end])) end++;
    if (end - start >= 16) return true;
  }
  return false;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * A JSON number written with a point or an exponent whose value is a whole number (`1.0`, `1e0`). It is
 * a fine weight, but not an id: TF Serving's int64 check (rapidjson `IsInt64`) refuses it.
 */
export class IntegralFloat {
  constructor(
    readonly value: number,
    readonly text: string,
  ) {}
}

/**
 * Parses a JSON request body without rounding int64 ids: integers beyond 2^53 become bigints, and
 * whole-valued floats (`1.0`) become `IntegralFloat`s. The fast built-in JSON.parse is used unless the
 * text has a run of 16+ digits or such a float; only then lossless-json. `bytes`: the text's UTF-8 (the
 * request body), scanned for those.
 */
export function parseJsonBody(text: string, bytes: Uint8Array = Buffer.from(text)): unknown {
  if (text.trim() === "") throw new InvalidArgumentError("JSON Parse error: The document is empty");
  try {
    return needsLosslessParse(bytes) ? parseLossless(text, null, parseNumber) : JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(parseErrorMessage((error as Error).message));
  }
}

/**
 * TF Serving's words for a syntax error (rapidjson's `GetParseError_En`, "JSON Parse error: Invalid
 * value. at offset: 0"), from JSON.parse's or lossless-json's message, which is kept in parentheses.
 */
const RAPIDJSON_ERRORS: [RegExp, string][] = [
  [
    /^Unexpected token|^JSON value expected|^Array item expected|^No number after minus sign/,
    "Invalid value.",
  ],
  [/^Expected ',' or '\]' after array element/, "Missing a comma or ']' after an array element."],
  [/^Expected ',' or '\}' after property value/, "Missing a comma or '}' after an object member."],
  [/^Comma ',' expected after value/, "Missing a comma after a value."],
  [/^Expected ':' after property name|^Colon ':' expected/, "Missing a colon after a name of object member."],
  [/^Expected property name|^Quoted object key expected/, "Missing a name for object member."],
  [/^Unterminated string|^End of string '"' expected/, "Missing a closing quotation mark in string."],
  [
    /^Unexpected non-whitespace character after JSON|^Expected end of input/,
    "The document root must not be followed by other values.",
  ],
  [/^Unterminated fractional number/, "Miss fraction part in number."],
  [/^Exponent part is missing a number/, "Miss exponent in number."],
];

function parseErrorMessage(detail: string): string {
  let found = RAPIDJSON_ERRORS.find(([pattern]) => pattern.test(detail));
  const number = /^Invalid number '([^']*)'/.exec(detail); // lossless-json: "1e" or "1." cut short
  if (found === undefined && number !== null) {
    found = [
      /./,
      /[eE][+-]?$/.test(number[1]) ? "Miss exponent in number." : "Miss fraction part in number.",
    ];
  }
  if (found === undefined) return `JSON Parse error: ${detail}`;
  const offset = /at position (\d+)/.exec(detail);
  return `JSON Parse error: ${found[1]}${offset === null ? "" : ` at offset: ${offset[1]}`} (${detail})`;
}

function parseNumber(text: string): number | bigint | IntegralFloat {
  if (isInteger(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  const n = Number(text);
  return Number.isInteger(n) ? new IntegralFloat(n, text) : n;
}
