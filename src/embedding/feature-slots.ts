import { FeatureConfig } from "../config/feature-config.js";
import type { TableConfig } from "../config/table-config.js";
import { isNone, joinPath } from "../tensor/structure.js";
import type { FeatureStructure } from "./feature-structure.js";
import { sameStrings } from "./staging-layout.js";
import { MODE } from "../kernels/batch-layout.js";

/**
 * The small-lookup path's shadow of the feature structure (see small-lookup.ts): every FeatureConfig
 * replaced by its slot, walked beside the inputs, and the small checks the walk uses.
 */

/** One configured feature's constants, and its last output shapes (frozen, shared by the tensors). */
export class FeatureSlot {
  readonly table: number;
  readonly dim: number;
  readonly mode: number;
  readonly sequenceLength: number;
  /** `[...outputShape, dim]` and its number of rows, when the config sets `outputShape`. */
  readonly fixedShape: readonly number[] | null;
  readonly fixedRows: number;
  private rows = -1;
  private shape: readonly number[] = [];
  /** null until the first dense input: a rank-0 input's shape `[]` must not match an unset cache. */
  private denseInput: readonly number[] | null = null;
  private denseShape: readonly number[] = [];

  constructor(feature: FeatureConfig, table: number) {
    this.table = table;
    this.dim = feature.table.dim;
    this.mode = MODE[feature.table.combiner];
    this.sequenceLength = feature.maxSequenceLength;
    const fixed = feature.outputShape;
    this.fixedShape = fixed === null ? null : Object.freeze([...fixed, this.dim]);
    this.fixedRows = fixed === null ? 0 : fixed.reduce((a, b) => a * b, 1);
  }

  /** `[rows, dim]` or `[rows, length, dim]` (length > 0: a sequence). */
  shapeOf(rows: number, length: number): readonly number[] {
    if (rows !== this.rows) {
      this.rows = rows;
      this.shape = Object.freeze(length > 0 ? [rows, length, this.dim] : [rows, this.dim]);
    }
    return this.shape;
  }

  /** `[...input, dim]` for dense ids. */
  denseShapeOf(input: readonly number[]): readonly number[] {
    const last = this.denseInput;
    let same = last !== null && last.length === input.length;
    for (let i = 0; same && i < input.length; i++) same = last![i] === input[i];
    if (!same) {
      this.denseInput = input;
      this.denseShape = Object.freeze([...input, this.dim]);
    }
    return this.denseShape;
  }
}

export class ListNode {
  constructor(readonly items: readonly Shadow[]) {}
}

export class DictNode {
  /** The key list of the last input seen here, its children (`undefined`: not configured) and a result template. */
  private keys: readonly string[] = [];
  private known: readonly (Shadow | undefined)[] = [];
  private template: Container = {};
  /**
   * Makes a result object with the last key list from one value per key (null when a key cannot be an
   * object literal's plain key): an object literal with constant keys is built from its boilerplate in a
   * few stores, where `result()` and one keyed store per key cost 15-45 ns a key (26 keys: 0.4-1.2 µs of
   * a B=1 lookup, bench/results/2026-12-07-b1-and-split.md).
   */
  private maker: ((values: readonly unknown[]) => Container) | null = null;
  /** Reads every key of the last key list from an input, its weights and its `into` (see `keyReader`). */
  private reader: KeyReader = () => {};
  /** Recent key lists' children, templates, makers and readers: requests alternating a few key lists reuse them. */
  private readonly recent: {
    keys: readonly string[];
    known: readonly (Shadow | undefined)[];
    template: Container;
    maker: ((values: readonly unknown[]) => Container) | null;
    reader: KeyReader;
  }[] = [];
  /** Scratch: one value per key of the result being collected (cleared after each use). */
  readonly values: unknown[] = [];
  /** Scratch filled by `read`: per key, the input's, the weights' and `into`'s value (cleared after each use). */
  readonly inputValues: unknown[] = [];
  readonly weightValues: unknown[] = [];
  readonly intoValues: unknown[] = [];

  constructor(readonly children: ReadonlyMap<string, Shadow>) {}

  /** The children for `keys` (an input's own keys), resolved once per distinct key list. */
  childrenOf(keys: readonly string[]): readonly (Shadow | undefined)[] {
    if (!sameStrings(keys, this.keys)) this.switchTo(keys);
    return this.known;
  }

  private switchTo(keys: readonly string[]): void {
    let entry = this.recent.find((e) => sameStrings(e.keys, keys));
    if (entry === undefined) {
      entry = {
        keys: [...keys],
        known: keys.map((k) => this.children.get(k)),
        // A fast-properties object with exactly these keys in this order (objects built key by key with
        // more than a dozen keys end up as hash tables: slow to build, slow to read).
        template: JSON.parse(JSON.stringify(Object.fromEntries(keys.map((k) => [k, null])))) as Container,
        maker: objectMaker(keys),
        reader: keyReader(keys),
      };
      if (this.recent.length === RECENT_KEY_LISTS) this.recent.pop();
    } else {
      this.recent.splice(this.recent.indexOf(entry), 1);
    }
    this.recent.unshift(entry);
    this.keys = entry.keys;
    this.known = entry.known;
    this.template = entry.template;
    this.maker = entry.maker;
    this.reader = entry.reader;
  }

  /**
   * `read(input, weight, into, inputValues, weightValues, intoValues)` for the last `childrenOf`'s keys
   * (weight and into may be null: not read).
   */
  get read(): KeyReader {
    return this.reader;
  }

  /** `make(values)`'s maker for the last `childrenOf`'s keys, or null (then `result()` and stores). */
  get make(): ((values: readonly unknown[]) => Container) | null {
    return this.maker;
  }

  /** A fresh result object with the keys of the last `childrenOf` (values to be filled in). */
  result(): Container {
    return { ...this.template };
  }
}

/** Key lists a DictNode keeps ready (with their children, template, maker and reader). */
const RECENT_KEY_LISTS = 4;

/**
 * A function generated for one key list, its keys written in its code as JSON string literals (valid
 * JavaScript string literals, so no key can change the code): `body` gets the literals. Null when a key
 * would not be a plain own data property in a literal (`__proto__`), there are too many keys for a literal
 * or a straight line of reads to stay fast, or code generation from strings is disallowed
 * (`--disallow-code-generation-from-strings`).
 */
function generatedForKeys<F>(
  keys: readonly string[],
  params: readonly string[],
  body: (names: string[]) => string,
): F | null {
  if (keys.length === 0 || keys.length > 128 || keys.includes("__proto__")) return null;
  try {
    return new Function(...params, `"use strict";\n${body(keys.map((k) => JSON.stringify(k)))}`) as F;
  } catch {
    return null;
  }
}

/** A function making `{ [keys[0]]: values[0], … }` as one object literal with constant keys, or null (see `generatedForKeys`). */
function objectMaker(keys: readonly string[]): ((values: readonly unknown[]) => Container) | null {
  return generatedForKeys(
    keys,
    ["v"],
    (names) => `return { ${names.map((k, i) => `${k}: v[${i}]`).join(", ")} };`,
  );
}

type KeyReader = (
  input: object,
  weight: object | null,
  into: object | null,
  inputValues: unknown[],
  weightValues: unknown[],
  intoValues: unknown[],
) => void;

/**
 * A function reading `keys[n]` of an input (and of its weights and `into`, when not null) into element n
 * of the three arrays. Generated where it can be (`generatedForKeys`), each key read by its constant name:
 * one keyed read site for every key costs a hash probe or a megamorphic lookup per read; a site per key
 * with its name in the code is a monomorphic load (or a probe with a hash known in advance), and the
 * straight line keeps a request's cold reads in flight together: B=1 with 26 RaggedTensors 0.2-0.7 µs
 * faster on the standard workload's tables, 0.7-1.6 µs on small ones
 * (bench/results/2026-12-08-neon-and-ragged-staging.md). Otherwise the same reads, keyed.
 */
function keyReader(keys: readonly string[]): KeyReader {
  const generated = generatedForKeys<KeyReader>(keys, ["i", "w", "o", "a", "b", "c"], (names) => {
    const reads = (from: string, to: string) =>
      names.map((k, n) => `${to}[${n}] = ${from}[${k}];`).join("\n");
    return `${reads("i", "a")}\nif (w !== null) {\n${reads("w", "b")}\n}\nif (o !== null) {\n${reads("o", "c")}\n}`;
  });
  if (generated !== null) return generated;
  const copy = [...keys];
  const read = (from: object, to: unknown[]) => {
    for (let n = 0; n < copy.length; n++) to[n] = (from as Container)[copy[n]];
  };
  return (input, weight, into, inputValues, weightValues, intoValues) => {
    read(input, inputValues);
    if (weight !== null) read(weight, weightValues);
    if (into !== null) read(into, intoValues);
  };
}

/** The feature structure with every FeatureConfig replaced by its slot, walked beside the inputs. */
export type Shadow = FeatureSlot | ListNode | DictNode;

export type Container = Record<string | number, unknown>;

export function shadowOf(node: FeatureStructure, tableIndex: ReadonlyMap<TableConfig, number>): Shadow {
  if (node instanceof FeatureConfig) return new FeatureSlot(node, tableIndex.get(node.table)!);
  if (Array.isArray(node)) return new ListNode(node.map((child) => shadowOf(child, tableIndex)));
  const children = new Map<string, Shadow>();
  for (const [key, child] of Object.entries(node as Record<string, FeatureStructure>))
    children.set(key, shadowOf(child, tableIndex));
  return new DictNode(children);
}

export function countSlots(shadow: Shadow): number {
  if (shadow instanceof FeatureSlot) return 1;
  let n = 0;
  for (const child of shadow instanceof ListNode ? shadow.items : shadow.children.values())
    n += countSlots(child);
  return n;
}

export function sameSplits(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Weights may hold only the inputs' keys (null entries aside), as the general path requires. */
export function weightKeysFit(
  weight: Record<string, unknown>,
  input: Record<string, unknown>,
  inputKeys: readonly string[],
): boolean {
  const keys = Object.keys(weight);
  if (sameStrings(keys, inputKeys)) return true;
  for (const key of keys) if (!isNone(weight[key]) && !(key in input)) return false;
  return true;
}

/**
 * Whether `out` is caller memory that workers cannot write in place: an `into` outside shared memory.
 * Its buffer may hold more than this lookup's outputs, so it is never assembled elsewhere and copied
 * back whole: such lookups run on the calling thread (sync) or take the planned path (async).
 */
export function callerMemory(into: unknown, out: Float32Array): boolean {
  return !isNone(into) && !(out.buffer instanceof SharedArrayBuffer);
}

export function slotsByPath(shadow: Shadow, path: string, into: Map<string, FeatureSlot>): void {
  if (shadow instanceof FeatureSlot) into.set(path, shadow);
  else if (shadow instanceof ListNode)
    shadow.items.forEach((c, k) => slotsByPath(c, joinPath(path, k), into));
  else for (const [k, c] of shadow.children) slotsByPath(c, joinPath(path, k), into);
}
