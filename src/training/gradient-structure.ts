import type { LastLookup } from "../embedding/lookup-record.js";
import { quote } from "../embedding/feature-structure.js";
import { InvalidArgumentError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { isPlainObject, joinPath, typeName } from "../tensor/structure.js";

/**
 * Matches `gradients` against the last lookup's inputs structure (as TF's apply_gradients requires the
 * activations' structure) and returns one float32 gradient per looked-up feature, in the lookup's
 * feature order, or `null` where the caller passed null/undefined. Checks dtype, exact shape
 * (`outputShape` of the feature's plan) and finiteness; nothing is written anywhere.
 */
export function matchGradients(last: LastLookup, gradients: unknown): (Float32Array | null)[] {
  // The inputs' structure with each looked-up feature's index at its leaf.
  const template = last.pack(last.features.map((_, i) => i));
  const out: (Float32Array | null)[] = new Array<Float32Array | null>(last.features.length).fill(null);

  const visit = (node: unknown, gradient: unknown, path: string): void => {
    if (typeof node === "number") {
      out[node] = checkGradient(last, node, gradient);
      return;
    }
    if (node === null || node === undefined) {
      if (gradient !== null && gradient !== undefined) {
        throw new InvalidArgumentError(
          `Gradient at ${quote(path)} has no matching lookup output (the last lookup's input there was ` +
            `${String(node)}); pass null or leave it out.`,
        );
      }
      return;
    }
    if (Array.isArray(node)) {
      if (!Array.isArray(gradient) || gradient.length !== node.length) {
        throw structureError(path, `an array of ${node.length} entries`, gradient);
      }
      node.forEach((child, i) => visit(child, gradient[i], joinPath(path, i)));
      return;
    }
    if (isPlainObject(node)) {
      if (!isPlainObject(gradient)) throw structureError(path, "a plain object", gradient);
      for (const key of Object.keys(gradient)) {
        if (!(key in node)) {
          throw new InvalidArgumentError(
            `Gradient at ${quote(joinPath(path, key))} has no matching feature in the last lookup.`,
          );
        }
      }
      for (const key of Object.keys(node).sort()) {
        const child = node[key];
        if (!(key in gradient) && holdsFeature(child)) {
          throw new InvalidArgumentError(
            `Gradients are missing ${quote(joinPath(path, key))}, which the last lookup produced; pass null ` +
              `to send no gradient for a feature.`,
          );
        }
        visit(child, gradient[key], joinPath(path, key));
      }
      return;
    }
    throw new InvalidArgumentError(`Unexpected lookup structure at ${quote(path)}: ${typeName(node)}.`);
  };
  visit(template, gradients, "");
  return out;
}

function holdsFeature(node: unknown): boolean {
  if (typeof node === "number") return true;
  if (Array.isArray(node)) return node.some(holdsFeature);
  if (isPlainObject(node)) return Object.values(node).some(holdsFeature);
  return false;
}

function checkGradient(last: LastLookup, index: number, gradient: unknown): Float32Array | null {
  if (gradient === null || gradient === undefined) return null;
  const { path, plan } = last.features[index];
  const p = quote(path);
  if (!(gradient instanceof DenseTensor)) {
    throw new InvalidArgumentError(
      `Gradient for feature ${p} is type ${typeName(gradient)}; found non-tensor type. Expected a float32 ` +
        `DenseTensor of shape [${plan.outputShape.join(", ")}] or null.`,
    );
  }
  if (!(gradient.data instanceof Float32Array)) {
    throw new InvalidArgumentError(
      `Gradient for feature ${p} has dtype ${gradient.dtype}; the activations are float32, so the gradient ` +
        `must be float32.`,
    );
  }
  const shape = gradient.shape;
  const expected = plan.outputShape;
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new InvalidArgumentError(
      `Found gradient of shape [${shape.join(", ")}] for feature ${p}, expected the shape of its lookup ` +
        `output [${expected.join(", ")}].`,
    );
  }
  const data = gradient.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new InvalidArgumentError(
        `Gradient for feature ${p} has a non-finite value ${data[i]} at flat index ${i}; no variable was changed.`,
      );
    }
  }
  return data;
}

function structureError(path: string, expected: string, got: unknown): InvalidArgumentError {
  const detail = Array.isArray(got) ? `an array of ${got.length} entries` : typeName(got);
  return new InvalidArgumentError(
    `Gradients do not have the structure of the last lookup's inputs: at ${quote(path)} expected ${expected}, ` +
      `got ${detail}.`,
  );
}
