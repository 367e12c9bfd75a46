import { InvalidArgumentError } from "../errors.js";
import { randomSeed, SeededRandom } from "./random.js";

/**
 * Creates the initial values of a `[rows, dim]` float32 table, row-major. When `out` is given (the
 * table's own memory, possibly shared between threads) the built-in initializers fill it in place and
 * return it; a user function may ignore it and return a new array, which is then copied in.
 */
export type Initializer = (shape: readonly [number, number], out?: Float32Array) => Float32Array;

const description = new WeakMap<Initializer, string>();
const defaults = new WeakSet<Initializer>();

function named(fn: Initializer, text: string): Initializer {
  description.set(fn, text);
  return fn;
}

function target(shape: readonly [number, number], out: Float32Array | undefined): Float32Array {
  const size = shape[0] * shape[1];
  if (out === undefined) return new Float32Array(size);
  if (out.length !== size) {
    throw new InvalidArgumentError(
      `Initializer output has ${out.length} elements, expected ${size} for shape [${shape.join(", ")}].`,
    );
  }
  return out;
}

export interface TruncatedNormalOptions {
  mean?: number;
  stddev?: number;
  /** Same seed, same values, on every machine. Without it every call draws new values. */
  seed?: number;
}

/** Normal samples re-drawn until they fall within two standard deviations of the mean, as TF's TruncatedNormal. */
export function truncatedNormal(options: TruncatedNormalOptions = {}): Initializer {
  const mean = options.mean ?? 0;
  const stddev = options.stddev ?? 0.05;
  if (!(stddev >= 0)) {
    throw new InvalidArgumentError(`truncatedNormal: \`stddev\` must be >= 0. Received: ${stddev}`);
  }
  const seed = options.seed;
  return named(
    (shape, out) => {
      const values = target(shape, out);
      const random = new SeededRandom(seed ?? randomSeed());
      for (let i = 0; i < values.length; i++) {
        let z = random.nextNormal();
        while (z < -2 || z > 2) z = random.nextNormal();
        values[i] = mean + stddev * z;
      }
      return values;
    },
    `TruncatedNormal(mean=${mean}, stddev=${stddev}${seed === undefined ? "" : `, seed=${seed}`})`,
  );
}

/**
 * A scalar fills the table; an array is laid out row-major like TF's `Constant` initializer with a list
 * (its length must equal rows × dim).
 */
export function constant(value: number | ArrayLike<number>): Initializer {
  const text = typeof value === "number" ? `Constant(${value})` : `Constant([${value.length} values])`;
  return named((shape, out) => {
    const values = target(shape, out);
    if (typeof value === "number") {
      values.fill(value);
    } else {
      if (value.length !== values.length) {
        throw new InvalidArgumentError(
          `constant: ${value.length} values cannot fill a table of shape [${shape.join(", ")}] ` +
            `(${values.length} values).`,
        );
      }
      for (let i = 0; i < values.length; i++) values[i] = value[i];
    }
    return values;
  }, text);
}

export function zeros(): Initializer {
  return named((shape, out) => {
    const values = target(shape, out);
    if (out !== undefined) values.fill(0);
    return values;
  }, "Zeros()");
}

export function ones(): Initializer {
  return constant(1);
}

/** TF's default for a table: truncated normal, mean 0, stddev 1/sqrt(dim). */
export function defaultTableInitializer(dim: number): Initializer {
  const fn = truncatedNormal({ mean: 0, stddev: 1 / Math.sqrt(dim) });
  defaults.add(fn);
  return fn;
}

export function isDefaultTableInitializer(fn: Initializer): boolean {
  return defaults.has(fn);
}

export function describeInitializer(fn: Initializer): string {
  return description.get(fn) ?? (fn.name ? `function ${fn.name}` : "function");
}

/** Runs an initializer into `out`, copying when a user function returned its own array. */
export function runInitializer(
  fn: Initializer,
  shape: readonly [number, number],
  out: Float32Array,
  what: string,
): void {
  const result = fn(shape, out);
  if (!(result instanceof Float32Array)) {
    throw new InvalidArgumentError(`The initializer of ${what} must return a Float32Array.`);
  }
  if (result === out) return;
  if (result.length !== out.length) {
    throw new InvalidArgumentError(
      `The initializer of ${what} returned ${result.length} values, expected ${out.length} ` +
        `for shape [${shape.join(", ")}].`,
    );
  }
  out.set(result);
}
