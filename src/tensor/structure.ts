import { InvalidArgumentError } from "../errors.js";

/**
 * Nested structures as TF's `tf.nest` sees them, with plain objects for dicts and arrays for lists.
 * Dict entries are visited in sorted key order (TF's flatten order); paths join keys and indices with "/".
 */
/** A skipped leaf of a structure (TF's `None`). */
export function isNone(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function joinPath(parent: string, key: string | number): string {
  return parent === "" ? String(key) : `${parent}/${key}`;
}

export interface PathLeaf<T> {
  readonly path: string;
  readonly value: T;
}

/** Flattens in TF order; anything that is neither a container nor accepted by `isLeaf` is an error. */
export function flattenWithPaths<T>(
  structure: unknown,
  isLeaf: (value: unknown) => value is T,
  describe: (path: string, value: unknown) => string,
): PathLeaf<T>[] {
  const out: PathLeaf<T>[] = [];
  const visit = (node: unknown, path: string): void => {
    if (isLeaf(node)) {
      out.push({ path, value: node });
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, joinPath(path, i)));
    } else if (isPlainObject(node)) {
      for (const key of Object.keys(node).sort()) visit(node[key], joinPath(path, key));
    } else {
      throw new InvalidArgumentError(describe(path, node));
    }
  };
  visit(structure, "");
  return out;
}

/** The type name TF-style messages print for a value. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "Array";
  if (typeof value === "object") return (value as object).constructor?.name ?? "Object";
  return typeof value;
}
