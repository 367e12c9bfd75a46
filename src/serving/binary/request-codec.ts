import { InvalidArgumentError } from "../../errors.js";
import type { FeatureInput, IdArray, PredictInputs } from "../batching/feature-input.js";
import {
  align8,
  HEADER_BYTES,
  ID_INT32,
  ID_INT64,
  KIND_CODES,
  readHeader,
  REQUEST_MAGIC,
  writeHeader,
} from "./binary-format.js";
import { aligned, ByteReader, ByteWriter } from "./byte-io.js";

const MAX_RANK = 8;
const MAX_FEATURES = 4096;
const FEATURE_HEADER_BYTES = 16;
const utf8 = new TextEncoder();

/** Encodes predict inputs as a binary request body (see docs/serving.md, "Binary format"). */
export function encodeBinaryRequest(inputs: PredictInputs): Uint8Array {
  const names = [...inputs.keys()].map((n) => utf8.encode(n));
  let size = HEADER_BYTES;
  [...inputs.values()].forEach((input, i) => {
    size += FEATURE_HEADER_BYTES + align8(names[i].length);
    const idBytes = input.ids.length * input.ids.BYTES_PER_ELEMENT;
    if (input.kind === "ragged") size += align8(input.rowSplits.byteLength);
    else size += align8(4 * (input.kind === "dense" ? input.shape.length : input.denseShape.length));
    if (input.kind === "sparse") size += input.indices.byteLength;
    size += align8(idBytes);
    if (input.kind !== "dense" && input.weights !== null) size += align8(input.weights.byteLength);
  });
  const w = new ByteWriter(size);
  writeHeader(w, REQUEST_MAGIC, inputs.size);
  [...inputs.values()].forEach((input, i) => {
    const weights = input.kind === "dense" ? null : input.weights;
    const dims = input.kind === "dense" ? input.shape : input.kind === "sparse" ? input.denseShape : [];
    w.u16(names[i].length);
    w.u8(KIND_CODES[input.kind]);
    w.u8(input.ids instanceof BigInt64Array ? ID_INT64 : ID_INT32);
    w.u8(weights === null ? 0 : 1);
    w.u8(dims.length);
    w.u16(0);
    w.u32(input.kind === "ragged" ? input.rowSplits.length - 1 : 0);
    w.u32(input.ids.length);
    w.array(names[i]);
    if (input.kind === "ragged") w.array(input.rowSplits);
    else w.array(Uint32Array.from(dims));
    if (input.kind === "sparse") w.array(input.indices);
    w.array(input.ids);
    if (weights !== null) w.array(weights);
  });
  return w.bytes;
}

/** Decodes and structurally validates a binary request; every length is checked before it is read. */
export function decodeBinaryRequest(body: Uint8Array): PredictInputs {
  const r = new ByteReader(aligned(body), "Binary request");
  const count = readHeader(r, REQUEST_MAGIC, "Binary request");
  if (count === 0 || count > MAX_FEATURES) {
    throw new InvalidArgumentError(`Binary request: ${count} features; expected 1 to ${MAX_FEATURES}.`);
  }
  const out = new Map<string, FeatureInput>();
  for (let f = 0; f < count; f++) {
    if (r.offset + FEATURE_HEADER_BYTES > r.bytes.byteLength)
      r.need(FEATURE_HEADER_BYTES, `feature ${f} header`);
    const nameBytes = r.u16();
    const kind = r.u8();
    const idType = r.u8();
    const hasWeights = r.u8();
    const rank = r.u8();
    const reserved = r.u16();
    if (reserved !== 0) r.reserved(reserved, `feature ${f} header's reserved u16`);
    const rows = r.u32();
    const n = r.u32();
    const name = r.text(nameBytes, `feature ${f} name`);
    // Error texts are built only when raised (r.array's `name`): this loop runs for every feature.
    if (out.has(name)) throw new InvalidArgumentError(`${featureLabel(name)}: appears twice.`);
    if (idType !== ID_INT32 && idType !== ID_INT64)
      throw new InvalidArgumentError(`${featureLabel(name)}: id type ${idType} (0 int32, 1 int64).`);
    if (hasWeights > 1)
      throw new InvalidArgumentError(`${featureLabel(name)}: weights flag ${hasWeights} (0 or 1).`);
    if (kind === KIND_CODES.ragged) {
      if (rank !== 0) r.reserved(rank, `${featureLabel(name)}: rank (ragged features have rank 0)`);
      if (rows > 2 ** 31 - 2) throw new InvalidArgumentError(`${featureLabel(name)}: ${rows} rows.`);
      const rowSplits = r.int32(rows + 1, " row_splits", name);
      checkRowSplits(rowSplits, n, name);
      const ids = readIds(r, idType, n, name);
      const weights = hasWeights ? r.array(Float32Array, n, " weights", name) : null;
      out.set(name, { kind: "ragged", ids, rowSplits, weights });
      continue;
    }
    const where = featureLabel(name);
    if (kind === KIND_CODES.dense || kind === KIND_CODES.sparse) {
      const sparse = kind === KIND_CODES.sparse;
      r.reserved(rows, `${where}: rows (0 for dense and sparse features)`);
      if (rank > MAX_RANK || (sparse && rank === 0)) {
        throw new InvalidArgumentError(`${where}: rank ${rank}; expected ${sparse ? 1 : 0} to ${MAX_RANK}.`);
      }
      const dims = Array.from(r.array(Uint32Array, rank, `${where} shape`));
      if (dims.some((d) => d > 2 ** 31 - 1))
        throw new InvalidArgumentError(`${where}: shape [${dims.join(", ")}] too large.`);
      if (!sparse) {
        const size = dims.reduce((a, b) => a * b, 1);
        if (size !== n) {
          throw new InvalidArgumentError(
            `${where}: shape [${dims.join(", ")}] holds ${size} ids but the header says ${n}.`,
          );
        }
        if (hasWeights)
          throw new InvalidArgumentError(`${where}: dense inputs take no weights (TF's plain gather).`);
        out.set(name, { kind: "dense", ids: readIds(r, idType, n, name), shape: dims });
        continue;
      }
      const indices = r.array(BigInt64Array, n * rank, `${where} indices`);
      const bounds = dims.map(BigInt);
      for (let i = 0; i < indices.length; i++) {
        const d = i % rank;
        if (indices[i] < 0n || indices[i] >= bounds[d]) {
          throw new InvalidArgumentError(
            `${where}: indices[${Math.floor(i / rank)}][${d}] is ${indices[i]}, outside dense_shape [${dims.join(", ")}].`,
          );
        }
      }
      const ids = readIds(r, idType, n, name);
      const weights = hasWeights ? r.array(Float32Array, n, `${where} weights`) : null;
      out.set(name, { kind: "sparse", ids, indices, denseShape: dims, weights });
    } else {
      throw new InvalidArgumentError(`${where}: kind ${kind} (0 ragged, 1 dense, 2 sparse).`);
    }
  }
  if (r.offset !== r.bytes.byteLength) {
    throw new InvalidArgumentError(
      `Binary request: ${r.bytes.byteLength - r.offset} bytes after the last feature.`,
    );
  }
  return out;
}

function featureLabel(name: string): string {
  return `Binary request, feature "${name}"`;
}

function readIds(r: ByteReader, idType: number, n: number, name: string): IdArray {
  return idType === ID_INT64 ? r.array(BigInt64Array, n, " ids", name) : r.int32(n, " ids", name);
}

function checkRowSplits(splits: Int32Array, n: number, name: string): void {
  if (splits[0] !== 0)
    throw new InvalidArgumentError(`${featureLabel(name)}: row_splits[0] is ${splits[0]}, expected 0.`);
  for (let i = 1; i < splits.length; i++) {
    if (splits[i] < splits[i - 1]) {
      throw new InvalidArgumentError(
        `${featureLabel(name)}: row_splits[${i}] = ${splits[i]} < row_splits[${i - 1}] = ${splits[i - 1]}.`,
      );
    }
  }
  if (splits[splits.length - 1] !== n) {
    throw new InvalidArgumentError(
      `${featureLabel(name)}: the last row split (${splits[splits.length - 1]}) must equal the id count (${n}).`,
    );
  }
}
