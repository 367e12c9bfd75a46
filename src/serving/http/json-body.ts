import { isInteger, parse as parseLossless } from "lossless-json";
import { InvalidArgumentError } from "../../errors.js";

// 16+ digits in a row may be an integer beyond 2^53 (or a long fraction, which is harmless).
const LONG_DIGIT_RUN = /\d{16}/;

/**
 * Parses a JSON request body without rounding int64 ids: integers beyond 2^53 become bigints. The fast
 * built-in JSON.parse is used unless the text has a run of 16+ digits; only then lossless-json.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new InvalidArgumentError("JSON Parse error: The document is empty");
  try {
    return LONG_DIGIT_RUN.test(text) ? parseLossless(text, null, parseNumber) : JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`JSON Parse error: ${(error as Error).message}`);
  }
}

function parseNumber(text: string): number | bigint {
  if (isInteger(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  return Number(text);
}
