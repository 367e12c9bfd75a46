import type { PredictOutputs } from "../batching/feature-input.js";
import type { EncodeReply, EncodeRequest } from "./json-encode-worker.js";
import type { JsonFormat } from "./json-request.js";
import { jsonAnswerBound } from "./json-response.js";
import { WorkerCalls } from "./worker-calls.js";

/**
 * Answers of at least this many values are formatted on the encode worker (about 0.4 ms of the native
 * writer at 75 M values/s); smaller ones on the main thread.
 */
export const OFF_THREAD_ENCODE_VALUES = 1 << 15;

/**
 * Arenas kept for reuse. Up to KEEP_ARENA_BYTES each (a batch-64 answer of the standard workload needs
 * 4 MiB), as many as fit in KEEP_SMALL_BYTES: as many answers as clients wait for at once (8 connections:
 * 8 arenas in flight). Four were kept before, so half the batch-64 answers took a fresh, zero-filled arena:
 * 2,307-2,363 against 2,197-2,217 µs of server CPU a request (bench/results/2026-12-07-late-outputs-and-tasks.md).
 * Bigger ones (a batch-1024 answer needs 27 MiB), at most KEEP_BIG_ARENAS, are kept only until
 * `bigArenaMs` after the first of them came back, so a burst of huge answers does not pin their memory for
 * the process's life (as the lookup pool keeps its slots); while such answers keep coming, that costs one
 * fresh arena per period. A fresh arena for every batch-1024 answer cost a third of the server's CPU (page
 * faults on its first writes): 72-77 against 50-52 ms a request.
 */
const KEEP_ARENA_BYTES = 16 << 20;
const KEEP_SMALL_BYTES = 32 << 20;
const KEEP_BIG_ARENAS = 4;
let bigArenaMs = 10_000;

/** Test hook: how long big arenas are kept (default 10 s). */
export function setBigArenaMs(ms: number): void {
  bigArenaMs = ms;
}
/**
 * The largest arena: bigger answers are formatted on the event loop in slices, as before the worker, since
 * allocating (zero-filling) and filling hundreds of megabytes of shared memory on the event loop would
 * hold it for tens of milliseconds.
 */
const MAX_ARENA_BYTES = 64 << 20;
/** Arenas are allocated in multiples of this (so one serves answers of nearby sizes). */
const ARENA_STEP = 1 << 20;

const calls = new WorkerCalls<EncodeReply>(
  new URL("./json-encode-worker.js", import.meta.url),
  "JSON encode",
);

/**
 * Shared memory for the worker's answers, reused once an answer has been written: a fresh megabyte-sized
 * ArrayBuffer per answer made the main thread's garbage collector run several times as often. Arenas of
 * up to KEEP_ARENA_BYTES and bigger ones are kept apart, each list in ascending size (so the first that
 * fits is the best fit, and the first is the one to drop).
 */
const smallArenas: SharedArrayBuffer[] = [];
const bigArenas: SharedArrayBuffer[] = [];
let smallBytes = 0;

function acquire(bytes: number): SharedArrayBuffer {
  // Every small arena is smaller than every big one.
  const arena = take(smallArenas, bytes) ?? take(bigArenas, bytes);
  if (arena === null) return new SharedArrayBuffer(Math.ceil(bytes / ARENA_STEP) * ARENA_STEP);
  if (arena.byteLength <= KEEP_ARENA_BYTES) smallBytes -= arena.byteLength;
  return arena;
}

/** The smallest arena of `list` with room for `bytes`, taken out of it; null when none has. */
function take(list: SharedArrayBuffer[], bytes: number): SharedArrayBuffer | null {
  const i = list.findIndex((a) => a.byteLength >= bytes);
  return i < 0 ? null : list.splice(i, 1)[0];
}

/** Test hook: the arenas kept for reuse, small (up to 16 MiB) and big, and the small ones' bytes. */
export function arenasKept(): { small: number; smallBytes: number; big: number } {
  return { small: smallArenas.length, smallBytes, big: bigArenas.length };
}

/** The timer that drops the big arenas kept (null: none is kept). */
let dropBig: NodeJS.Timeout | null = null;

function giveBack(arena: SharedArrayBuffer): void {
  const big = arena.byteLength > KEEP_ARENA_BYTES;
  const list = big ? bigArenas : smallArenas;
  const at = list.findIndex((a) => a.byteLength > arena.byteLength);
  list.splice(at < 0 ? list.length : at, 0, arena);
  // Over the limits of its kind, the smallest arenas of that kind go (a small answer fits a big arena,
  // not the other way round): possibly this one.
  if (big) {
    if (dropBig === null) {
      dropBig = setTimeout(() => {
        dropBig = null;
        bigArenas.length = 0;
      }, bigArenaMs).unref();
    }
    while (bigArenas.length > KEEP_BIG_ARENAS) bigArenas.shift();
  } else {
    smallBytes += arena.byteLength;
    while (smallBytes > KEEP_SMALL_BYTES) smallBytes -= smallArenas.shift()!.byteLength;
  }
}

/** The values in an answer (what decides where it is formatted). */
export function answerValues(outputs: PredictOutputs): number {
  let values = 0;
  for (const o of outputs.values()) values += o.data.length;
  return values;
}

/** An answer formatted by the worker: its bytes live in a shared arena until `release`. */
export interface OffThreadAnswer {
  readonly bytes: Uint8Array;
  /** Gives the arena back for reuse: only once the bytes are written (idempotent). */
  release(): void;
}

/**
 * Formats a big JSON answer on a worker thread, so the event loop serves other requests meanwhile: the
 * same bytes as on the main thread (json-response.ts). The values are copied into a shared arena (a
 * lookup's outputs may be views of memory the server reuses) and the worker writes the text after them.
 * Null (nothing done, the caller formats it itself) for answers under OFF_THREAD_ENCODE_VALUES values, or
 * needing more than the largest arena.
 */
export async function encodeJsonOffThread(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
): Promise<OffThreadAnswer | null> {
  const values = answerValues(outputs);
  if (values < OFF_THREAD_ENCODE_VALUES) return null;
  const textAt = 4 * values;
  const textBytes = jsonAnswerBound(format, outputs, bare);
  if (textAt + textBytes > MAX_ARENA_BYTES) return null;
  const arena = acquire(textAt + textBytes);
  const floats = new Float32Array(arena, 0, values);
  const entries: EncodeRequest["outputs"] = [];
  let at = 0;
  for (const [name, o] of outputs) {
    floats.set(o.data, at);
    entries.push([name, [...o.shape], at]);
    at += o.data.length;
  }
  const message: Omit<EncodeRequest, "id"> = { format, bare, arena, outputs: entries, textAt, textBytes };
  // A worker that dies rejects the call: it may have been writing, so the arena is not reused then.
  const reply = await calls.call(message);
  if (!reply.ok) {
    giveBack(arena);
    throw new Error(`The JSON encode worker failed: ${reply.message}`);
  }
  let released = false;
  return {
    bytes: Buffer.from(arena, textAt, reply.length),
    release() {
      if (released) return;
      released = true;
      giveBack(arena);
    },
  };
}
