import assert from "node:assert/strict";
import { test } from "node:test";
import * as root from "../../src/index.js";
import {
  DataLossError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  OutOfRangeError,
  TpuEmbeddingError,
  UnavailableError,
  UnimplementedError,
} from "../../src/errors.js";
import { HttpError, toErrorReply } from "../../src/serving/http/http-errors.js";
import { EmbeddingServerError } from "../../src/client/embedding-client.js";
import { DecodeError } from "../../src/checkpoint/sstable/coding.js";
import { parseCheckpointState } from "../../src/checkpoint/state-file.js";
import * as flags from "../../src/flags.js";
import { setKernelChoice } from "../../src/kernels/kernel-choice.js";
import { setNativeMinIds } from "../../src/kernels/native-kernels.js";
import { setTouchAhead } from "../../src/kernels/wasm-kernels.js";
import { setSmallLookupEnabled } from "../../src/embedding/small-lookup.js";

test("every error class is a TpuEmbeddingError with its stable code and its own name", () => {
  const cases: [TpuEmbeddingError, string, string][] = [
    [new InvalidArgumentError("m"), "INVALID_ARGUMENT", "InvalidArgumentError"],
    [new OutOfRangeError("f", "t", 5, 3), "OUT_OF_RANGE", "OutOfRangeError"],
    [new NotFoundError("m"), "NOT_FOUND", "NotFoundError"],
    [new FailedPreconditionError("m"), "FAILED_PRECONDITION", "FailedPreconditionError"],
    [new UnavailableError("m"), "UNAVAILABLE", "UnavailableError"],
    [new DataLossError("m"), "DATA_LOSS", "DataLossError"],
    [new UnimplementedError("m"), "UNIMPLEMENTED", "UnimplementedError"],
    [new InternalError("m"), "INTERNAL", "InternalError"],
    [new DecodeError("m"), "DATA_LOSS", "DecodeError"],
    [new HttpError(429, "RESOURCE_EXHAUSTED", "m"), "RESOURCE_EXHAUSTED", "HttpError"],
    [new EmbeddingServerError(400, "m"), "INVALID_ARGUMENT", "EmbeddingServerError"],
    [new EmbeddingServerError(404, "m"), "NOT_FOUND", "EmbeddingServerError"],
    [new EmbeddingServerError(413, "m"), "RESOURCE_EXHAUSTED", "EmbeddingServerError"],
    [new EmbeddingServerError(503, "m"), "UNAVAILABLE", "EmbeddingServerError"],
    [new EmbeddingServerError(504, "m"), "DEADLINE_EXCEEDED", "EmbeddingServerError"],
    [new EmbeddingServerError(500, "m"), "INTERNAL", "EmbeddingServerError"],
  ];
  for (const [e, code, name] of cases) {
    assert.ok(e instanceof TpuEmbeddingError, name);
    assert.ok(e instanceof Error, name);
    assert.equal(e.code, code, name);
    assert.equal(e.name, name);
  }
  assert.equal(root.InternalError, InternalError); // exported from the package root with the others
});

test("HttpError keeps its HTTP status; toErrorReply maps codes to TF Serving's statuses", () => {
  const e = new HttpError(413, "RESOURCE_EXHAUSTED", "Request body of 9 bytes exceeds the limit of 8 bytes.");
  assert.deepEqual(toErrorReply(e), {
    status: 413,
    code: "RESOURCE_EXHAUSTED",
    message: "Request body of 9 bytes exceeds the limit of 8 bytes.",
  });
  assert.deepEqual(toErrorReply(new HttpError(499, "CANCELLED", "gone")), {
    status: 499,
    code: "CANCELLED",
    message: "gone",
  });
  assert.equal(toErrorReply(new OutOfRangeError("f", "t", 7, 3)).status, 400);
  assert.equal(toErrorReply(new NotFoundError("x")).status, 404);
  assert.equal(toErrorReply(new UnavailableError("x")).status, 503);
  assert.equal(toErrorReply(new UnimplementedError("x")).status, 501);
  assert.deepEqual(toErrorReply(new InternalError("broken")), {
    status: 500,
    code: "INTERNAL",
    message: "broken",
  });
  assert.deepEqual(toErrorReply(new TypeError("oops")), { status: 500, code: "INTERNAL", message: "oops" });
});

test("a bad escape in a checkpoint state file is a DataLossError naming the file", () => {
  assert.throws(
    () => parseCheckpointState('model_checkpoint_path: "ckpt-\\q"\n', "/m/checkpoint"),
    (e: unknown) =>
      e instanceof DataLossError && /Checkpoint state file "\/m\/checkpoint": bad escape \\q/.test(e.message),
  );
});

test("src/flags.ts names every environment variable and holds the test hooks the modules re-export", () => {
  assert.deepEqual(Object.values(flags.ENV).sort(), [
    "TPU_EMBEDDING_HUGE_PAGES",
    "TPU_EMBEDDING_INLINE_LOOKUP_IDS",
    "TPU_EMBEDDING_ISA",
    "TPU_EMBEDDING_KERNELS",
    "TPU_EMBEDDING_NATIVE_MIN_IDS",
    "TPU_EMBEDDING_PREFETCH",
    "TPU_EMBEDDING_SKIP_NATIVE",
    "TPU_EMBEDDING_WORKER_SPIN_US",
  ]);
  assert.equal(setKernelChoice, flags.setKernelChoice);
  assert.equal(setNativeMinIds, flags.setNativeMinIds);
  assert.equal(setTouchAhead, flags.setTouchAhead);
  assert.equal(setSmallLookupEnabled, flags.setSmallLookupEnabled);

  setTouchAhead(16);
  assert.equal(flags.touchAhead, 16);
  setTouchAhead(0);
  assert.equal(flags.touchAhead, 0);
  setSmallLookupEnabled(false);
  assert.equal(flags.smallLookupEnabled, false);
  setSmallLookupEnabled(true);
  assert.equal(flags.smallLookupEnabled, true);
});

/** `read` throws an InvalidArgumentError with exactly `message`. */
function refused(read: () => unknown, message: string): void {
  assert.throws(read, (e: unknown) => e instanceof InvalidArgumentError && e.message === message);
}

test("flags read the environment: defaults, values, and a bad value is an InvalidArgumentError naming the variable", () => {
  const saved = { ...process.env };
  try {
    delete process.env.TPU_EMBEDDING_WORKER_SPIN_US;
    assert.equal(flags.workerSpinMs(), 0.3); // 300 µs
    process.env.TPU_EMBEDDING_WORKER_SPIN_US = "1500";
    assert.equal(flags.workerSpinMs(), 1.5);
    process.env.TPU_EMBEDDING_WORKER_SPIN_US = "-1";
    refused(
      () => flags.workerSpinMs(),
      'TPU_EMBEDDING_WORKER_SPIN_US must be a number of microseconds >= 0, got "-1".',
    );
    flags.setInlineLookupIds(undefined);
    delete process.env.TPU_EMBEDDING_INLINE_LOOKUP_IDS;
    assert.equal(flags.inlineLookupIds(), 16384);
    flags.setInlineLookupIds(undefined);
    process.env.TPU_EMBEDDING_INLINE_LOOKUP_IDS = "0";
    assert.equal(flags.inlineLookupIds(), 0);
    flags.setInlineLookupIds(undefined);
    process.env.TPU_EMBEDDING_INLINE_LOOKUP_IDS = "1.5";
    refused(
      () => flags.inlineLookupIds(),
      'TPU_EMBEDDING_INLINE_LOOKUP_IDS must be an integer >= 0, got "1.5".',
    );
    flags.setInlineLookupIds(undefined);
    delete process.env.TPU_EMBEDDING_HUGE_PAGES;
    assert.equal(flags.hugePagesEnabled(), true);
    process.env.TPU_EMBEDDING_HUGE_PAGES = "0";
    assert.equal(flags.hugePagesEnabled(), false);
    process.env.TPU_EMBEDDING_HUGE_PAGES = "1";
    assert.equal(flags.hugePagesEnabled(), true);
    delete process.env.TPU_EMBEDDING_ISA;
    assert.equal(flags.isaChoice(), "native");
    process.env.TPU_EMBEDDING_ISA = "v3";
    assert.equal(flags.isaChoice(), "v3");
    process.env.TPU_EMBEDDING_ISA = "avx2";
    refused(
      () => flags.isaChoice(),
      'TPU_EMBEDDING_ISA must be one of native, v2, v3, v4, neon, generic, got "avx2".',
    );
    delete process.env.TPU_EMBEDDING_PREFETCH;
    assert.equal(flags.prefetchChoice(), "auto");
    process.env.TPU_EMBEDDING_PREFETCH = "16";
    assert.equal(flags.prefetchChoice(), 16);
    process.env.TPU_EMBEDDING_PREFETCH = "0";
    assert.equal(flags.prefetchChoice(), 0);
    process.env.TPU_EMBEDDING_PREFETCH = "300";
    refused(
      () => flags.prefetchChoice(),
      'TPU_EMBEDDING_PREFETCH must be "auto" or an integer 0..256, got "300".',
    );
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});
