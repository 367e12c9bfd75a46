import { InvalidArgumentError } from "../errors.js";

/** A nested JS array of numbers/bigints, e.g. `[[1, 2], [3, 4]]`. */
export type NestedArray<T = number | bigint> = T | NestedArray<T>[];

/** Flattens a rectangular nested array row-major, returning its shape; rejects ragged nesting. */
export function flattenRectangular(
  value: unknown,
  what: string,
): { shape: number[]; values: (number | bigint)[] } {
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const values: (number | bigint)[] = [];
  const visit = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) {
        throw new InvalidArgumentError(`${what}: nesting is deeper at ${path || "the root"} than elsewhere.`);
      }
      if (typeof node !== "number" && typeof node !== "bigint") {
        throw new InvalidArgumentError(
          `${what}: element at ${path || "the root"} is ${typeof node}, expected a number.`,
        );
      }
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new InvalidArgumentError(
        `${what}: not rectangular: at ${path || "the root"} expected an array of length ${shape[depth]}, got ` +
          `${Array.isArray(node) ? `length ${node.length}` : typeof node}. Use RaggedTensor for rows of different lengths.`,
      );
    }
    for (let i = 0; i < node.length; i++) visit(node[i], depth + 1, `${path}[${i}]`);
  };
  visit(value, 0, "");
  return { shape, values };
}

/** Builds a nested array of `shape` from row-major values. */
export function unflatten<T>(values: ArrayLike<T>, shape: readonly number[]): NestedArray<T> {
  if (shape.length === 0) return values[0];
  let offset = 0;
  const build = (depth: number): NestedArray<T>[] => {
    const out: NestedArray<T>[] = [];
    for (let i = 0; i < shape[depth]; i++) {
      if (depth === shape.length - 1) out.push(values[offset++]);
      else out.push(build(depth + 1));
    }
    return out;
  };
  return build(0);
}

export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

export function checkShape(shape: readonly number[], what: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InvalidArgumentError(
      `${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}.`,
    );
  }
  return [...shape];
}
