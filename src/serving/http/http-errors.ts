import { TpuEmbeddingError, type ErrorCode } from "../../errors.js";
import { excerpt } from "../excerpt.js";

/** TF status codes the server produces itself (HttpError), beside the library's other codes. */
export type ServerErrorCode = Extract<
  ErrorCode,
  "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "CANCELLED" | "UNIMPLEMENTED" | "INTERNAL"
>;

/**
 * A failure with a fixed HTTP status (limits, overload, shutdown, timeouts, unsupported APIs): a
 * `TpuEmbeddingError` whose stable `code` is TF's, with the status the server answers (docs/errors.md).
 */
export class HttpError extends TpuEmbeddingError {
  constructor(
    readonly status: number,
    code: ServerErrorCode,
    message: string,
  ) {
    super(code, message);
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
