/**
 * Every error this library throws on purpose is a `TpuEmbeddingError` with a stable `code`, so callers
 * (and the server, which maps codes to HTTP statuses) can branch on the kind without parsing messages.
 * The codes are TensorFlow's status codes; docs/errors.md lists every class, code and HTTP status.
 */
export type ErrorCode =
  | "INVALID_ARGUMENT" // a bad configuration value or a malformed input (TF's ValueError / TypeError)
  | "OUT_OF_RANGE" // an id outside [0, vocabularySize) that TF's semantics do not prune
  | "NOT_FOUND" // a missing feature, table, variable, file or checkpoint key
  | "FAILED_PRECONDITION" // an operation in the wrong state (e.g. reading tables before they exist)
  | "UNAVAILABLE" // transiently unable to answer (e.g. no model version loaded yet): retry later
  | "DATA_LOSS" // a corrupt or truncated checkpoint (bad magic, crc32c mismatch, short read)
  | "UNIMPLEMENTED" // a valid TF feature this library does not support
  | "INTERNAL" // a broken invariant inside the library (a bug, or a lookup worker that failed)
  // a limit: memory for the operation could not be allocated or a memory budget is spent; the server's
  // body too large (413) or too many requests in flight (429)
  | "RESOURCE_EXHAUSTED"
  // Set only by the server's HttpError (src/serving/http/http-errors.ts):
  | "DEADLINE_EXCEEDED" // the request's deadline passed (504)
  | "CANCELLED"; // the client hung up before sending its whole request (499)

export class TpuEmbeddingError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value or an input that TensorFlow would reject with ValueError/TypeError. */
export class InvalidArgumentError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/** An id outside `[0, vocabularySize)`; names the feature path, the table and the id. */
export class OutOfRangeError extends TpuEmbeddingError {
  readonly feature: string;
  readonly table: string;
  readonly id: bigint | number;

  constructor(feature: string, table: string, id: bigint | number, vocabularySize: number) {
    super(
      "OUT_OF_RANGE",
      `Feature "${feature}": id ${String(id)} is out of range for table "${table}" ` +
        `(vocabularySize ${vocabularySize}, valid ids are 0..${vocabularySize - 1}).`,
    );
    this.feature = feature;
    this.table = table;
    this.id = id;
  }
}

export class NotFoundError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NOT_FOUND", message, options);
  }
}

export class FailedPreconditionError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("FAILED_PRECONDITION", message, options);
  }
}

/** Transient: the operation may succeed if retried (TF's UNAVAILABLE; HTTP 503). */
export class UnavailableError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNAVAILABLE", message, options);
  }
}

/** A corrupt or truncated file: bad magic, checksum mismatch, short read, undecodable bytes. */
export class DataLossError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DATA_LOSS", message, options);
  }
}

/**
 * Memory ran out: an array the operation needed could not be allocated (a RangeError from the engine,
 * wrapped with what was being allocated), or a server's memory budget is spent (HTTP 429, retry later).
 */
export class ResourceExhaustedError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RESOURCE_EXHAUSTED", message, options);
  }
}

const ALLOCATION_FAILURE = /allocation failed|Invalid (typed )?array length|Array buffer|out of memory/i;

/** A RangeError from an allocation as a ResourceExhaustedError naming `what`; anything else as it is. */
export function allocationError(error: unknown, what: string): unknown {
  if (error instanceof RangeError && ALLOCATION_FAILURE.test(error.message)) {
    return new ResourceExhaustedError(`${what}: memory could not be allocated (${error.message}).`, {
      cause: error,
    });
  }
  return error;
}

export class UnimplementedError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNIMPLEMENTED", message, options);
  }
}

/** A broken invariant inside the library: a bug, or a lookup worker that failed (TF's INTERNAL; HTTP 500). */
export class InternalError extends TpuEmbeddingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INTERNAL", message, options);
  }
}
