import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import { align8, HEADER_BYTES, readHeader, RESPONSE_MAGIC, writeHeader } from "./binary-format.js";
import { aligned, ByteReader, ByteWriter } from "./byte-io.js";

const utf8 = new TextEncoder();

/** Encodes lookup outputs: per output its name, shape and float32 values (see docs/serving.md). */
export function encodeBinaryResponse(outputs: PredictOutputs): Uint8Array {
  const names = [...outputs.keys()].map((n) => utf8.encode(n));
  let size = HEADER_BYTES;
  [...outputs.values()].forEach((o, i) => {
    size += 8 + align8(names[i].length) + align8(4 * o.shape.length) + align8(o.data.byteLength);
  });
  const w = new ByteWriter(size);
  writeHeader(w, RESPONSE_MAGIC, outputs.size);
  [...outputs.values()].forEach((o, i) => {
    w.u16(names[i].length);
    w.u8(o.shape.length);
    w.u8(0);
    w.u32(0);
    w.array(names[i]);
    w.array(Uint32Array.from(o.shape));
    w.array(o.data);
  });
  return w.bytes;
}

/**
 * `encodeBinaryResponse` as pieces to write one after the other, the outputs' values as views of their
 * own memory (no copy: a big answer costs no main-thread memcpy and no second buffer). The pieces'
 * concatenation is byte-identical to `encodeBinaryResponse`.
 */
export function encodeBinaryResponsePieces(outputs: PredictOutputs): Uint8Array[] {
  const names = [...outputs.keys()].map((n) => utf8.encode(n));
  const values = [...outputs.values()];
  const pieces: Uint8Array[] = [];
  let headerSize = HEADER_BYTES;
  values.forEach((o, i) => {
    if (i === 0) headerSize += 8 + align8(names[0].length) + align8(4 * o.shape.length);
  });
  let w = new ByteWriter(headerSize);
  writeHeader(w, RESPONSE_MAGIC, outputs.size);
  values.forEach((o, i) => {
    if (i > 0) w = new ByteWriter(8 + align8(names[i].length) + align8(4 * o.shape.length));
    w.u16(names[i].length);
    w.u8(o.shape.length);
    w.u8(0);
    w.u32(0);
    w.array(names[i]);
    w.array(Uint32Array.from(o.shape));
    pieces.push(w.bytes);
    const data = new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength);
    if (data.byteLength > 0) pieces.push(data);
    const pad = align8(data.byteLength) - data.byteLength;
    if (pad > 0) pieces.push(new Uint8Array(pad));
  });
  if (values.length === 0) pieces.push(w.bytes);
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
