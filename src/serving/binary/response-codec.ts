import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import { align8, FORMAT_VERSION, HEADER_BYTES, readHeader, RESPONSE_MAGIC } from "./binary-format.js";
import { aligned, ByteReader } from "./byte-io.js";
import { utf8Name } from "../bounded-cache.js";

/**
 * Answers up to this size are one buffer (the values copied in): one write to the socket. Bigger ones are
 * pieces whose values are views of the lookup's output memory (no main-thread memcpy, no second buffer).
 */
export const COPY_ANSWER_BELOW_BYTES = 64 * 1024;

/** The bytes of an output's header: name length, rank, reserved, name and shape, padded. */
function outputHeaderBytes(name: Uint8Array, output: FeatureOutput): number {
  return 8 + align8(name.length) + align8(4 * output.shape.length);
}

/** Writes one output's header at `at` into zeroed `bytes` (padding left as is); returns the end. */
function writeOutputHeader(
  bytes: Uint8Array,
  words: Uint32Array,
  at: number,
  name: Uint8Array,
  output: FeatureOutput,
): number {
  // Little-endian (as Node on x86 and ARM always is): the u16 name length, the u8 rank, zeros.
  words[at >> 2] = name.length | (output.shape.length << 16);
  bytes.set(name, at + 8);
  let w = (at + 8 + align8(name.length)) >> 2;
  for (let d = 0; d < output.shape.length; d++) words[w++] = output.shape[d];
  return at + outputHeaderBytes(name, output);
}

function writeResponseHeader(words: Uint32Array, count: number): void {
  words[0] = RESPONSE_MAGIC;
  words[1] = FORMAT_VERSION; // the u16 version, then a zero u16
  words[2] = count;
}

/** An answer's outputs in order, their names as UTF-8, and its sizes: measured once per answer. */
interface Layout {
  readonly names: Uint8Array[];
  readonly outputs: FeatureOutput[];
  /** The header and every output's header. */
  readonly headerBytes: number;
  /** Every output's values, each padded to 8 bytes. */
  readonly valueBytes: number;
}

function layout(outputs: PredictOutputs): Layout {
  const names: Uint8Array[] = [];
  const values: FeatureOutput[] = [];
  let headerBytes = HEADER_BYTES;
  let valueBytes = 0;
  for (const [name, o] of outputs) {
    const bytes = utf8Name(name);
    names.push(bytes);
    values.push(o);
    headerBytes += outputHeaderBytes(bytes, o);
    valueBytes += align8(o.data.byteLength);
  }
  return { names, outputs: values, headerBytes, valueBytes };
}

/** Encodes lookup outputs: per output its name, shape and float32 values (see docs/serving.md). */
export function encodeBinaryResponse(outputs: PredictOutputs): Uint8Array {
  return writeWhole(layout(outputs));
}

function writeWhole({ names, outputs, headerBytes, valueBytes }: Layout): Uint8Array {
  const size = headerBytes + valueBytes;
  // A fresh ArrayBuffer is zeroed: every padding byte is already 0.
  const buffer = new ArrayBuffer(size);
  const bytes = new Uint8Array(buffer);
  const words = new Uint32Array(buffer, 0, size >> 2);
  const floats = new Float32Array(buffer, 0, size >> 2);
  writeResponseHeader(words, outputs.length);
  let at = HEADER_BYTES;
  for (let i = 0; i < outputs.length; i++) {
    at = writeOutputHeader(bytes, words, at, names[i], outputs[i]);
    floats.set(outputs[i].data, at >> 2);
    at += align8(outputs[i].data.byteLength);
  }
  return bytes;
}

const ZEROS = new Uint8Array(8);

/**
 * `encodeBinaryResponse` as pieces to write one after the other: one buffer for an answer of at most
 * `copyBelowBytes`, else every header in one buffer and the outputs' values as views of their own memory.
 * The pieces' concatenation is byte-identical to `encodeBinaryResponse`.
 */
export function encodeBinaryResponsePieces(
  outputs: PredictOutputs,
  copyBelowBytes = COPY_ANSWER_BELOW_BYTES,
): Uint8Array[] {
  const measured = layout(outputs);
  if (measured.headerBytes + measured.valueBytes <= copyBelowBytes) return [writeWhole(measured)];
  const buffer = new ArrayBuffer(measured.headerBytes);
  const head = new Uint8Array(buffer);
  const words = new Uint32Array(buffer);
  writeResponseHeader(words, outputs.size);
  const pieces: Uint8Array[] = [];
  let from = 0;
  let at = HEADER_BYTES;
  measured.outputs.forEach((o, i) => {
    at = writeOutputHeader(head, words, at, measured.names[i], o);
    pieces.push(head.subarray(from, at));
    from = at;
    const data = new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength);
    if (data.byteLength > 0) pieces.push(data);
    const pad = align8(data.byteLength) - data.byteLength;
    if (pad > 0) pieces.push(ZEROS.subarray(0, pad));
  });
  if (outputs.size === 0) pieces.push(head);
  return pieces;
}

export function decodeBinaryResponse(body: Uint8Array): PredictOutputs {
  const r = new ByteReader(aligned(body), "Binary response");
  const count = readHeader(r, RESPONSE_MAGIC, "Binary response");
  const out = new Map<string, FeatureOutput>();
  for (let i = 0; i < count; i++) {
    r.need(8, `output ${i} header`);
    const nameBytes = r.u16();
    const rank = r.u8();
    r.reserved(r.u8(), `output ${i} header's reserved u8`);
    r.reserved(r.u32(), `output ${i} header's reserved u32`);
    const name = r.text(nameBytes, `output ${i} name`);
    const shape = Array.from(r.array(Uint32Array, rank, `output "${name}" shape`));
    const size = shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape, data: r.array(Float32Array, size, `output "${name}" values`) });
  }
  return out;
}
