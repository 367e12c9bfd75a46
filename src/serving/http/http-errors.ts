import { TpuEmbeddingError } from "../../errors.js";
import { excerpt } from "../excerpt.js";

/** TF status codes the server produces itself, beyond the library's ErrorCode. */
export type ServerErrorCode = "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "INTERNAL";

/** A failure with a fixed HTTP status (limits, overload, shutdown, timeouts). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** TF Serving's ToHTTPStatusCode (http_server.cc). */
const STATUS_BY_CODE: Record<string, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INTERNAL: 500,
  DATA_LOSS: 500,
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  UNAUTHENTICATED: 401,
};

export interface ErrorReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** The longest error message the server sends (longer ones are cut, saying by how much). */
export const MAX_ERROR_CHARS = 1024;

/**
 * Any thrown value → TF Serving's status and `{ "error": message }`; unknown errors are INTERNAL (500).
 * Messages quote at most short excerpts of a request, and are cut at MAX_ERROR_CHARS whatever they hold.
 */
export function toErrorReply(error: unknown): ErrorReply {
  const reply = replyFor(error);
  return { ...reply, message: excerpt(reply.message, MAX_ERROR_CHARS) };
}

function replyFor(error: unknown): ErrorReply {
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message };
  if (error instanceof TpuEmbeddingError) {
    return { status: STATUS_BY_CODE[error.code] ?? 500, code: error.code, message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, code: "INTERNAL", message };
}

export function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}
