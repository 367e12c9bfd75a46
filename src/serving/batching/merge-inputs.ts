import type {
  FeatureInput,
  FeatureOutput,
  IdArray,
  PredictInputs,
  PredictOutputs,
  RaggedInput,
  SparseInput,
  DenseInput,
} from "./feature-input.js";
import { inputRows } from "./feature-input.js";
import type { ModelFeatures } from "./model-features.js";

/**
 * Requests with the same key can be concatenated along dimension 0 and their outputs split back by rows,
 * each request's rows computed exactly as if it ran alone: same features, and per feature the same kind,
 * the same per-example shape (a dense input's trailing dimensions; a sparse input's whole `dense_shape`
 * but dimension 0, since the merged shape takes each dimension's maximum and rows are numbered over the
 * leading dimensions), the same id dtype and the same weight form (TF sums unweighted sparse rows in
 * another order than weighted ones, and prunes non-positive weights only when weights are given).
 * `null`: this request runs alone (features whose output rows do not follow the input rows:
 * `outputShape`, TF's plain sparse lookup that drops trailing empty rows, scalars).
 */
export function batchKey(features: ModelFeatures, inputs: PredictInputs): string | null {
  const parts: string[] = [];
  for (const name of [...inputs.keys()].sort()) {
    const input = inputs.get(name)!;
    const feature = features.byName.get(name);
    const config = features.configs.get(name);
    if (feature === undefined || config === undefined || feature.outputShape !== null) return null;
    const dtype = input.ids instanceof BigInt64Array ? "l" : "i";
    if (input.kind === "dense") {
      if (input.shape.length === 0) return null;
      parts.push(`${name}\u0000d${dtype}${input.shape.slice(1).join(",")}`);
    } else if (input.kind === "sparse") {
      if (input.denseShape.length < 2 || !config.validateWeightsAndIndices) return null;
      const weighted = input.weights === null ? "u" : "w";
      parts.push(`${name}\u0000s${dtype}${weighted}${input.denseShape.slice(1).join(",")}`);
    } else {
      parts.push(`${name}\u0000r${dtype}${input.weights === null ? "u" : "w"}`);
    }
  }
  return parts.join("\u0001");
}

/** Concatenates requests that share a batch key, offsetting row splits and sparse row indices. */
export function mergeInputs(requests: readonly PredictInputs[]): PredictInputs {
  if (requests.length === 1) return requests[0];
  const merged = new Map<string, FeatureInput>();
  for (const name of requests[0].keys()) {
    const parts = requests.map((r) => r.get(name)!);
    const first = parts[0];
    if (first.kind === "ragged") merged.set(name, mergeRagged(parts as RaggedInput[]));
    else if (first.kind === "dense") merged.set(name, mergeDense(parts as DenseInput[]));
    else merged.set(name, mergeSparse(parts as SparseInput[]));
  }
  return merged;
}

/**
 * Splits a merged lookup's outputs back to each request by its rows; `null` when an output's dimension 0
 * does not equal the merged rows (then the caller looks the requests up one by one).
 */
export function splitOutputs(
  requests: readonly PredictInputs[],
  merged: PredictOutputs,
): PredictOutputs[] | null {
  if (requests.length === 1) return [merged];
  const results = requests.map(() => new Map<string, FeatureOutput>());
  for (const [name, output] of merged) {
    const rows = requests.map((r) => inputRows(r.get(name)!));
    const total = rows.reduce((a, b) => a + b, 0);
    if (output.shape.length === 0 || output.shape[0] !== total) return null;
    const stride = total === 0 ? 0 : output.data.length / total;
    const inner = output.shape.slice(1);
    let row = 0;
    rows.forEach((n, j) => {
      results[j].set(name, {
        shape: [n, ...inner],
        data: output.data.subarray(row * stride, (row + n) * stride),
      });
      row += n;
    });
  }
  return results;
}

function concatIds(parts: readonly IdArray[]): IdArray {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const wide = parts.some((p) => p instanceof BigInt64Array);
  if (!wide) {
    const out = new Int32Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p as Int32Array, at);
      at += p.length;
    }
    return out;
  }
  const out = new BigInt64Array(total);
  let at = 0;
  for (const p of parts) {
    if (p instanceof BigInt64Array) out.set(p, at);
    else for (let i = 0; i < p.length; i++) out[at + i] = BigInt(p[i]);
    at += p.length;
  }
  return out;
}

/** Weights of requests that sent none are ones (TF's default), so a batch may mix both. */
function concatWeights(
  parts: readonly { ids: IdArray; weights: Float32Array | null }[],
): Float32Array | null {
  if (parts.every((p) => p.weights === null)) return null;
  const out = new Float32Array(parts.reduce((n, p) => n + p.ids.length, 0));
  let at = 0;
  for (const p of parts) {
    if (p.weights === null) out.fill(1, at, at + p.ids.length);
    else out.set(p.weights, at);
    at += p.ids.length;
  }
  return out;
}

function mergeRagged(parts: readonly RaggedInput[]): RaggedInput {
  const rows = parts.reduce((n, p) => n + p.rowSplits.length - 1, 0);
  const rowSplits = new Int32Array(rows + 1);
  let row = 0;
  let offset = 0;
  for (const p of parts) {
    for (let r = 1; r < p.rowSplits.length; r++) rowSplits[row + r] = p.rowSplits[r] + offset;
    row += p.rowSplits.length - 1;
    offset += p.ids.length;
  }
  return {
    kind: "ragged",
    ids: concatIds(parts.map((p) => p.ids)),
    rowSplits,
    weights: concatWeights(parts),
  };
}

function mergeDense(parts: readonly DenseInput[]): DenseInput {
  const rows = parts.reduce((n, p) => n + p.shape[0], 0);
  return {
    kind: "dense",
    ids: concatIds(parts.map((p) => p.ids)),
    shape: [rows, ...parts[0].shape.slice(1)],
  };
}

function mergeSparse(parts: readonly SparseInput[]): SparseInput {
  const rank = parts[0].denseShape.length;
  const denseShape = parts[0].denseShape.map((_, d) =>
    d === 0 ? parts.reduce((n, p) => n + p.denseShape[0], 0) : Math.max(...parts.map((p) => p.denseShape[d])),
  );
  const indices = new BigInt64Array(parts.reduce((n, p) => n + p.indices.length, 0));
  let at = 0;
  let rowOffset = 0n;
  for (const p of parts) {
    indices.set(p.indices, at);
    if (rowOffset !== 0n) for (let e = at; e < at + p.indices.length; e += rank) indices[e] += rowOffset;
    at += p.indices.length;
    rowOffset += BigInt(p.denseShape[0]);
  }
  return {
    kind: "sparse",
    ids: concatIds(parts.map((p) => p.ids)),
    indices,
    denseShape,
    weights: concatWeights(parts),
  };
}
