import type { Optimizer } from "../config/optimizers.js";
import type { TableConfig } from "../config/table-config.js";
import { Adam } from "../config/optimizers.js";
import type { PlannedFeature } from "../embedding/serving-embedding-lookup.js";
import type { EmbeddingVariable, LastLookup } from "../embedding/lookup-record.js";
import { quote } from "../embedding/feature-structure.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../errors.js";
import { backpropagate, lookedUpIds } from "./backprop.js";
import { matchGradients } from "./gradient-structure.js";
import { makeRowUpdater, type TableState } from "./optimizer-math.js";
import { TouchedRows } from "./touched-rows.js";

/** Per-table gradient memory kept between steps; grows to the largest step seen. */
const workspaces = new WeakMap<TableConfig, Float32Array>();

/** What an embedding must offer to be trained (TPUEmbeddingForServing does). */
export interface TrainableEmbedding {
  readonly lastLookupPlans: LastLookup | null;
  readonly variables: ReadonlyMap<string, EmbeddingVariable>;
}

export interface ApplyGradientsResult {
  /** Per updated table (by name): how many rows the optimizer updated (all rows for non-lazy Adam). */
  readonly rowsUpdated: ReadonlyMap<string, number>;
}

/**
 * TF's `TPUEmbedding.apply_gradients(gradients)` on CPU: `gradients` has the structure of the last
 * `embeddingLookup`'s inputs, one float32 DenseTensor per looked-up feature with exactly that feature's
 * output shape, or null. A null gradient sends zeros, as TF does: the feature's rows still count as
 * touched (a no-op for SGD/Adagrad/FTRL without decay; lazy Adam and AdagradMomentum still decay their
 * slots). Everything is validated before the first write.
 */
export function applyGradients(embedding: TrainableEmbedding, gradients: unknown): ApplyGradientsResult {
  const last = embedding.lastLookupPlans;
  if (last === null) {
    throw new FailedPreconditionError(
      "applyGradients needs a preceding embeddingLookup: gradients are taken with respect to its outputs.",
    );
  }
  const perFeature = matchGradients(last, gradients);
  const variables = embedding.variables;
  return applyPlannedGradients(last.features, perFeature, (table) => tableState(table, variables));
}

/**
 * The class-free form: `features` are lookup plans (as `lookupWithPlans` returns them), `gradients` one
 * float32 array of each plan's output size (or null) in the same order, `state` gives a table's memory.
 * Validates everything (tables without optimizer, sizes, finiteness, the learning rates) before writing.
 */
export function applyPlannedGradients(
  features: readonly PlannedFeature[],
  gradients: readonly (Float32Array | null)[],
  state: (table: TableConfig) => TableState,
): ApplyGradientsResult {
  if (gradients.length !== features.length) {
    throw new InvalidArgumentError(
      `applyPlannedGradients: ${gradients.length} gradients for ${features.length} features.`,
    );
  }
  // Group features by table, in first-occurrence order.
  const groups = new Map<TableConfig, number[]>();
  features.forEach(({ path, feature, plan }, i) => {
    const gradient = gradients[i];
    const size = plan.outputShape.reduce((a, b) => a * b, 1);
    if (gradient !== null && gradient.length !== size) {
      throw new InvalidArgumentError(
        `Gradient for feature ${quote(path)} has ${gradient.length} values, expected ${size} ` +
          `([${plan.outputShape.join(", ")}]).`,
      );
    }
    const table = feature.table;
    if (table.optimizer === null) {
      if (gradient === null) return;
      throw new FailedPreconditionError(
        `Cannot apply a gradient for feature ${quote(path)}: table "${table.name}" has no optimizer ` +
          `(the embedding was created with optimizer null and the table sets none).`,
      );
    }
    const group = groups.get(table);
    if (group === undefined) groups.set(table, [i]);
    else group.push(i);
  });

  // One learning rate per step; tables sharing a learning-rate function share its value, as the TPU's
  // dynamic learning-rate tags do. Proto floats, hence fround.
  const rates = new Map<unknown, number>();
  const learningRate = (optimizer: Optimizer): number => {
    const key = typeof optimizer.learningRate === "function" ? optimizer.learningRate : optimizer;
    let lr = rates.get(key);
    if (lr === undefined) {
      lr = Math.fround(optimizer.currentLearningRate());
      rates.set(key, lr);
    }
    return lr;
  };

  // Pass 1 (no writes): per-table touched rows and summed gradients.
  const steps: { table: TableConfig; touched: TouchedRows; state: TableState; lr: number }[] = [];
  for (const [table, indices] of groups) {
    const optimizer = table.optimizer!;
    const tableState = state(table);
    checkState(table, optimizer, tableState);
    const touched = TouchedRows.fromIds(
      indices.map((i) => lookedUpIds(features[i].plan)),
      table.dim,
      workspaces.get(table) ?? null,
    );
    if (touched.gradients.buffer !== workspaces.get(table)?.buffer) workspaces.set(table, touched.gradients);
    const scratch = new Float32Array(table.dim);
    for (const i of indices) {
      const gradient = gradients[i];
      if (gradient !== null) backpropagate(features[i].plan, gradient, touched, scratch);
    }
    const bad = touched.firstNonFinite();
    if (bad >= 0) {
      throw new InvalidArgumentError(
        `The summed gradient of row ${touched.rows[Math.floor(bad / table.dim)]} of table "${table.name}" is ` +
          `not finite (float32 overflow); no variable was changed.`,
      );
    }
    steps.push({ table, touched, state: tableState, lr: learningRate(optimizer) });
  }

  // Pass 2: the optimizer, touched rows only (every row for non-lazy Adam).
  const rowsUpdated = new Map<string, number>();
  for (const { table, touched, state: tableState, lr } of steps) {
    const optimizer = table.optimizer!;
    const dim = table.dim;
    const update = makeRowUpdater(optimizer, lr, dim, tableState);
    const { rows, gradients: summed } = touched;
    if (optimizer instanceof Adam && !optimizer.lazyAdam) {
      const zeros = new Float32Array(dim);
      let k = 0;
      for (let r = 0; r < table.vocabularySize; r++) {
        if (k < rows.length && rows[k] === r) update(r * dim, summed, dim * k++);
        else update(r * dim, zeros, 0);
      }
      rowsUpdated.set(table.name!, table.vocabularySize);
    } else {
      for (let k = 0; k < rows.length; k++) update(rows[k] * dim, summed, k * dim);
      rowsUpdated.set(table.name!, rows.length);
    }
  }
  return { rowsUpdated };
}

/** A table's parameters and slots from the embedding's variables (`<table>`, `<table>/<slot>`). */
function tableState(table: TableConfig, variables: ReadonlyMap<string, EmbeddingVariable>): TableState {
  const name = table.name!;
  const parameters = variables.get(name);
  if (parameters === undefined) throw new NotFoundError(`No variable "${name}" for table "${name}".`);
  const slots: Record<string, Float32Array> = {};
  for (const slot of table.optimizer?.slots() ?? []) {
    const variable = variables.get(`${name}/${slot.name}`);
    if (variable === undefined) {
      throw new NotFoundError(`No slot variable "${name}/${slot.name}" for table "${name}".`);
    }
    slots[slot.name] = variable.value.data;
  }
  return { parameters: parameters.value.data, slots };
}

function checkState(table: TableConfig, optimizer: Optimizer, state: TableState): void {
  const size = table.vocabularySize * table.dim;
  const check = (what: string, array: unknown): void => {
    if (!(array instanceof Float32Array) || array.length !== size) {
      throw new InvalidArgumentError(
        `Table "${table.name}": ${what} must be ${size} float32 values ([${table.vocabularySize}, ${table.dim}]).`,
      );
    }
  };
  check("parameters", state.parameters);
  for (const slot of optimizer.slots()) check(`slot "${slot.name}"`, state.slots[slot.name]);
}
