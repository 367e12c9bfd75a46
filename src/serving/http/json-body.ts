import { isInteger, parse as parseLossless } from "lossless-json";
import { InvalidArgumentError } from "../../errors.js";

/**
 * Whether the text may hold a number JSON.parse would not keep exactly: 16+ digits in a row (an integer
 * maybe beyond 2^53, or a long fraction, which is harmless), or an integer written as a float (`1.0`,
 * `2.00`, `1e0`, `15E-1`), which TF Serving refuses for int64 ids, so the literal must be seen: a digit
 * followed by `.0…0` and no other digit, or by an exponent. False positives (in strings) only cost the
 * slower lossless parse. One charCode pass: about 10× faster than the regex and indexOf scans it replaced
 * (bench/results/2026-12-07-float-format.md).
 */
export function needsLosslessParse(text: string): boolean {
  let run = 0; // digits in a row so far
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++run >= 16) return true;
      continue;
    }
    if (run > 0) {
      if (c === 101 || c === 69) return true; // a digit, then e or E
      if (c === 46) {
        let j = i + 1;
        while (text.charCodeAt(j) === 48) j++;
        if (j > i + 1 && !isDigit(text.charCodeAt(j))) return true; // a digit, then .0…0 and no digit
      }
      run = 0;
    }
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
 * text has a run of 16+ digits or such a float; only then lossless-json.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new InvalidArgumentError("JSON Parse error: The document is empty");
  try {
    return needsLosslessParse(text) ? parseLossless(text, null, parseNumber) : JSON.parse(text);
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
