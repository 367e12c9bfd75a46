import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import { jsonFloats, jsonRowsCapacity, type JsonFloatWriter } from "./json-floats.js";
import type { JsonFormat } from "./json-request.js";
import { BoundedCache } from "../bounded-cache.js";

export { formatFloat32 } from "./float32-text.js";

/**
 * TF Serving's predict response: row requests get `{"predictions": [...]}` (one entry per example; an
 * object per example when the model has several outputs), columnar ones `{"outputs": ...}` (the bare
 * tensor for a one-output model, else an object by output name). Floats are printed
 * as TF Serving prints them (see formatFloat32).
 */
export function encodeJsonPredict(format: JsonFormat, outputs: PredictOutputs, bare: boolean): string {
  const bytes = encodeJsonAnswer(format, outputs, bare);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/**
 * Bytes per chunk of `jsonPredictChunks` (well under a millisecond of native formatting each). 256 KiB
 * chunks made status requests wait longer behind 8 big answers (test/serving/http/responsiveness.test.ts:
 * p50 21-25 ms against 14-17 ms with 32 KiB, bench/results/2026-12-07-float-format.md).
 */
export const JSON_CHUNK_BYTES = 1 << 15;

/**
 * `encodeJsonPredict` as UTF-8 in pieces of about `chunkBytes` bytes, so a server can format a big answer in
 * bounded slices and let other requests run in between. The values go straight from the outputs'
 * Float32Arrays into a reusable byte buffer (json-floats.ts: native, WebAssembly or JS writer), no string
 * per value. Iterative (an odometer over the dimensions), so neither deep nor wide shapes grow the stack,
 * and shapes with a zero dimension cost one `[]` per list.
 */
export function* jsonPredictChunks(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
  chunkBytes = JSON_CHUNK_BYTES,
  floats: JsonFloatWriter = jsonFloats(),
  target: Buffer | null = null,
): Generator<Uint8Array, void, undefined> {
  const entries = [...outputs];
  const out = new ChunkWriter(chunkBytes, floats, answerCapacity(entries, chunkBytes, format, bare), target);
  if (format === "columnar") {
    out.push('{"outputs":');
    if (bare) yield* writeTensor(out, entries[0][1], 0, 0);
    else yield* writeObject(out, entries, (o) => writeTensor(out, o, 0, 0));
    out.push("}");
  } else {
    out.push('{"predictions":[');
    const rows = entries.length === 0 ? 0 : entries[0][1].shape[0];
    for (let r = 0; r < rows; r++) {
      if (r > 0) out.push(",");
      if (bare) yield* writeRow(out, entries[0][1], r);
      else yield* writeObject(out, entries, (o) => writeRow(out, o, r));
      if (out.full) yield out.take();
    }
    out.push("]}");
  }
  yield out.take();
}

/** The largest answer written into one buffer of its own by `encodeJsonAnswer` (bigger ones are joined). */
const ONE_BUFFER_BYTES = 2 ** 31 - 1;

/**
 * The whole answer, in one buffer of its own when its size bound allows (no slices, no scratch buffer, no
 * copy): for a worker thread, where nothing else waits on the event loop. Into `target` when given and at
 * least `jsonAnswerBound` bytes long.
 */
export function encodeJsonAnswer(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
  floats: JsonFloatWriter = jsonFloats(),
  target: Buffer | null = null,
): Uint8Array {
  const chunks = [...jsonPredictChunks(format, outputs, bare, ONE_BUFFER_BYTES, floats, target)];
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** An upper bound on the bytes of an answer's JSON (Infinity past 2^31 - 1). */
export function jsonAnswerBound(format: JsonFormat, outputs: PredictOutputs, bare: boolean): number {
  return answerCapacity([...outputs], ONE_BUFFER_BYTES, format, bare);
}

/**
 * The bytes of the chunk being written, in one buffer shared by every answer (grown when needed): a chunk
 * is taken (copied out) before each yield, so answers formatted in interleaved slices never hold bytes in
 * it while suspended.
 */
let scratch = Buffer.allocUnsafe(1 << 16);
/** Beyond this the scratch buffer is not kept between chunks (normal chunks stay well below it). */
const SCRATCH_KEEP_BYTES = 4 * JSON_CHUNK_BYTES;

/** Texts up to this long are copied in by `push` itself (all ASCII), longer ones by Buffer#write. */
const SHORT_TEXT = 32;

/**
 * An upper bound on an answer's bytes when it is at most `limit` (a chunk's worth), else Infinity. Per
 * output: its quoted name (6 bytes a UTF-16 unit at most, escaped) with its colon and comma, once per
 * example in a row answer of several outputs (each example an object: its braces and comma fit in the
 * name's spare bytes), its values and the lists' brackets and commas.
 */
function answerCapacity(
  entries: readonly [string, FeatureOutput][],
  limit: number,
  format: JsonFormat,
  bare: boolean,
): number {
  let bytes = 64;
  const examples =
    format === "row" && !bare && entries.length > 0 ? Math.max(1, entries[0][1].shape[0] ?? 1) : 1;
  for (const [name, o] of entries) {
    const rank = o.shape.length;
    if (rank === 0) return Infinity;
    let rows = 1;
    for (let d = 0; d < rank - 1; d++) rows *= o.shape[d];
    bytes += examples * (6 * name.length + 8) + 4 * rank * rows + jsonRowsCapacity(rows, o.shape[rank - 1]);
    if (bytes > limit) return Infinity;
  }
  return bytes;
}

/**
 * Collects the bytes of one chunk; `full` once a chunk's worth is waiting. A small answer (`capacity`
 * bytes at most) is written into a buffer of its own (`target`, when given and big enough) and handed out
 * without a copy; bigger ones go through the shared scratch buffer, copied out chunk by chunk.
 */
class ChunkWriter {
  private size = 0;
  private buf: Buffer;
  private own: boolean;

  constructor(
    private readonly chunkBytes: number,
    private readonly floats: JsonFloatWriter,
    capacity: number,
    target: Buffer | null,
  ) {
    this.own = capacity <= chunkBytes;
    if (!this.own) this.buf = scratch;
    else if (target !== null && capacity <= target.length) this.buf = target;
    else this.buf = Buffer.allocUnsafe(capacity);
  }

  private reserve(bytes: number): void {
    if (this.size + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.size + bytes));
    this.buf.copy(grown, 0, 0, this.size);
    this.buf = grown;
    if (!this.own) scratch = grown;
  }

  push(text: string): void {
    this.reserve(3 * text.length);
    if (text.length <= SHORT_TEXT) {
      // Punctuation and short names byte by byte: Buffer#write's call costs more than the copy.
      const buf = this.buf;
      let at = this.size;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) {
          this.size += buf.write(text, this.size);
          return;
        }
        buf[at++] = c;
      }
      this.size = at;
      return;
    }
    this.size += this.buf.write(text, this.size);
  }

  /** `rows` lists of `width` values from data[offset..], comma-separated. */
  values(data: Float32Array, offset: number, rows: number, width: number): void {
    this.reserve(jsonRowsCapacity(rows, width));
    this.size = this.floats.write(data, offset, rows, width, this.buf, this.size);
  }

  /** One value, not in a list. */
  value(data: Float32Array, offset: number): void {
    this.reserve(jsonRowsCapacity(1, 1));
    const start = this.size;
    const end = this.floats.write(data, offset, 1, 1, this.buf, start); // "[v]"
    this.buf.copyWithin(start, start + 1, end - 1);
    this.size = end - 2;
  }

  get full(): boolean {
    return this.size >= this.chunkBytes;
  }

  /** Bytes a chunk holds (a bound for how much to write at once). */
  get chunkRoom(): number {
    return this.chunkBytes;
  }

  take(): Uint8Array {
    if (this.own) {
      // The answer's own buffer: handed out as is (a small answer is taken once, at its end).
      const taken = this.buf.subarray(0, this.size);
      // Anything after it (there should be nothing) goes through the scratch buffer.
      this.own = false;
      this.buf = scratch;
      this.size = 0;
      return taken;
    }
    // allocUnsafe + copy: Buffer.from(buffer) zero-fills its new memory first (a fifth of a batch-1 answer).
    // From this writer's buffer, which another answer's growth may have replaced as the shared one.
    const bytes = Buffer.allocUnsafe(this.size);
    this.buf.copy(bytes, 0, 0, this.size);
    this.size = 0;
    // One very wide list (a single row of millions of values) grew it: give that memory back.
    if (this.buf.length > SCRATCH_KEEP_BYTES) this.buf = scratch = Buffer.allocUnsafe(1 << 16);
    return bytes;
  }
}

/** Output names as JSON keys (`"name":`): a model's names repeat in every answer. */
const quotedNames = new BoundedCache<string, string>(4096);

function quotedName(name: string): string {
  return quotedNames.get(name, (n) => JSON.stringify(n) + ":");
}

function* writeObject(
  out: ChunkWriter,
  entries: [string, FeatureOutput][],
  write: (o: FeatureOutput) => Generator<Uint8Array, void, undefined>,
): Generator<Uint8Array, void, undefined> {
  out.push("{");
  for (let i = 0; i < entries.length; i++) {
    const [name, output] = entries[i];
    if (i > 0) out.push(",");
    out.push(quotedName(name));
    yield* write(output);
  }
  out.push("}");
}

function writeRow(
  out: ChunkWriter,
  output: FeatureOutput,
  row: number,
): Generator<Uint8Array, void, undefined> {
  let stride = 1;
  for (let d = 1; d < output.shape.length; d++) stride *= output.shape[d];
  return writeTensor(out, output, 1, row * stride);
}

/**
 * Writes dimensions `depth..` of `output` starting at flat `offset` as nested JSON lists: an odometer
 * over the leading dimensions up to the first zero one (whose lists are all `[]`), each step closing and
 * reopening the lists that rolled over, then innermost lists of values (or `[]`). Consecutive innermost
 * lists under one parent go to the float writer together (up to a chunk's worth).
 */
function* writeTensor(
  out: ChunkWriter,
  output: FeatureOutput,
  depth: number,
  offset: number,
): Generator<Uint8Array, void, undefined> {
  const { shape, data } = output;
  if (depth === shape.length) {
    out.value(data, offset);
    return;
  }
  // The common answer (rows of values, e.g. [batch, dim]) when it fits a chunk: one list of lists.
  if (depth === shape.length - 2 && shape[depth] > 0 && shape[depth + 1] > 0) {
    const rows = shape[depth];
    const width = shape[depth + 1];
    if (jsonRowsCapacity(rows, width) <= out.chunkRoom) {
      out.push("[");
      out.values(data, offset, rows, width);
      out.push("]");
      if (out.full) yield out.take();
      return;
    }
  }
  const inner = shape.length - 1; // the dimension printed as a list of values
  let stop = depth;
  while (stop < inner && shape[stop] > 0) stop++;
  // Lists of dimensions depth..stop-1 are walked; below them, a unit: values, or [] at a zero dimension.
  const empty = stop < inner || shape[inner] === 0;
  const width = shape[inner];
  const radix = shape.slice(depth, stop);
  const last = radix.length - 1;
  const digits = new Array<number>(radix.length).fill(0);
  let units = 1;
  for (const d of radix) units *= d;
  const maxRun = empty ? 1 : Math.max(1, Math.floor(out.chunkRoom / jsonRowsCapacity(1, width)));
  out.push("[".repeat(radix.length));
  let at = offset;
  for (let u = 0; u < units;) {
    if (u > 0) {
      let rolled = 0;
      for (let p = last; p >= 0; p--) {
        if (++digits[p] < radix[p]) break;
        digits[p] = 0;
        rolled++;
      }
      out.push(rolled === 0 ? "," : "]".repeat(rolled) + "," + "[".repeat(rolled));
    }
    // Units up to the end of the innermost walked list follow each other with just a comma.
    const run = last < 0 ? 1 : Math.min(radix[last] - digits[last], maxRun);
    if (empty) out.push(run === 1 ? "[]" : "[]" + ",[]".repeat(run - 1));
    else {
      out.values(data, at, run, width);
      at += run * width;
    }
    if (last >= 0) digits[last] += run - 1;
    u += run;
    if (out.full) yield out.take();
  }
  out.push("]".repeat(radix.length));
}
