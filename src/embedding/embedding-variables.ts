import { isDefaultTableInitializer, runInitializer, truncatedNormal } from "../config/initializers.js";
import type { SlotSpec } from "../config/optimizers.js";
import type { TrackableVariableSpec } from "../checkpoint/trackable.js";
import type { TableConfig } from "../config/table-config.js";
import { describeValue } from "../config/validate.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import type { EmbeddingVariable } from "./lookup-record.js";

/**
 * TPUEmbeddingForServing's variables (tpu-embedding-for-serving.ts): one float32 table per TableConfig
 * and its optimizer's slots, under TF's checkpoint names, and the memory they live in.
 */

/** One variable: a table (`slot` null) or one of its optimizer's slots. */
export interface VariableSpec {
  name: string;
  table: TableConfig;
  slot: SlotSpec | null;
}

/** Every variable of `tables`, in TF's order: each table, then its slots. */
export function variableSpecs(tables: readonly TableConfig[]): VariableSpec[] {
  const out: VariableSpec[] = [];
  for (const table of tables) {
    out.push({ name: table.name!, table, slot: null });
    for (const slot of table.optimizer?.slots() ?? [])
      out.push({ name: `${table.name}/${slot.name}`, table, slot });
  }
  return out;
}

/** Every variable as a checkpoint's object graph lists it (checkpoint/trackable.ts). */
export function trackableSpecs(tables: readonly TableConfig[]): TrackableVariableSpec[] {
  return variableSpecs(tables).map(({ name, table, slot }) => ({
    localName: name,
    dtype: "float32" as const,
    shape: [table.vocabularySize, table.dim],
    ...(slot !== null ? { slot: true } : {}),
  }));
}

/** Each variable's spec by name; a name `tables` do not have is a NotFoundError for restore. */
export function variableSpecLookup(tables: readonly TableConfig[]): (name: string) => VariableSpec {
  const specs = new Map(variableSpecs(tables).map((s) => [s.name, s]));
  return (name) => {
    const spec = specs.get(name);
    if (spec === undefined)
      throw new NotFoundError(`Cannot restore "${name}": the embedding has no such variable.`);
    return spec;
  };
}

/** Restore's check before anything is written: every value a Float32Array of its variable's size. */
export function checkRestoredValues(
  values: ReadonlyMap<string, Float32Array>,
  specOf: (name: string) => VariableSpec,
): void {
  for (const [name, array] of values) {
    const spec = specOf(name);
    const expected = spec.table.vocabularySize * spec.table.dim;
    if (!(array instanceof Float32Array) || array.length !== expected) {
      throw new InvalidArgumentError(
        `Cannot restore "${name}": expected ${expected} float32 values ([${spec.table.vocabularySize}, ` +
          `${spec.table.dim}]), got ${array instanceof Float32Array ? array.length : describeValue(array)}.`,
      );
    }
  }
}

/**
 * Creates every variable of `tables` (tables in `memory`, by index); those present in `provided` adopt
 * that memory instead of being initialised (`seed`: the embedding's seed for default initializers).
 */
export function createVariables(
  tables: readonly TableConfig[],
  memory: readonly Float32Array[],
  provided: ReadonlyMap<string, Float32Array>,
  seed: number | undefined,
): { variables: Map<string, EmbeddingVariable>; views: Map<TableConfig, DenseTensor<Float32Array>> } {
  const variables = new Map<string, EmbeddingVariable>();
  const views = new Map<TableConfig, DenseTensor<Float32Array>>();
  tables.forEach((table, index) => {
    const shape = [table.vocabularySize, table.dim] as const;
    const name = table.name!;
    // Tables live in the kernels' memory: restored values were read straight into it (see
    // allocateVariables); any other provided array is copied in once.
    const parameters = memory[index];
    const restored = provided.get(name);
    if (restored !== undefined && restored !== parameters) parameters.set(restored);
    if (restored === undefined) {
      const initializer =
        seed !== undefined && isDefaultTableInitializer(table.initializer)
          ? truncatedNormal({
              stddev: 1 / Math.sqrt(table.dim),
              seed: (seed + index * 0x9e3779b1) >>> 0,
            })
          : table.initializer;
      runInitializer(initializer, shape, parameters, `table "${name}"`);
    }
    const value = new DenseTensor(parameters, shape);
    variables.set(name, { name, table, slot: null, value });
    views.set(table, value);

    const optimizer = table.optimizer;
    if (optimizer === null) return;
    const slots = optimizer.slots();
    const pending = slots.filter((s) => !provided.has(`${name}/${s.name}`));
    const created =
      optimizer.slotVariableCreationFn !== null && pending.length > 0
        ? optimizer.slotVariableCreationFn(
            { name, shape, values: parameters },
            pending.map((s) => s.name),
            pending.map((s) => s.initialValue),
          )
        : {};
    for (const slot of slots) {
      const slotName = `${name}/${slot.name}`;
      let data = provided.get(slotName) ?? created[slot.name];
      if (data === undefined) {
        if (optimizer.slotVariableCreationFn !== null) {
          throw new InvalidArgumentError(
            `slotVariableCreationFn did not create slot "${slot.name}" of table "${name}".`,
          );
        }
        data = allocateTable(shape);
        if (slot.initialValue !== 0) data.fill(slot.initialValue);
      } else if (!(data instanceof Float32Array) || data.length !== shape[0] * shape[1]) {
        throw new InvalidArgumentError(
          `Slot "${slot.name}" of table "${name}" must be ${shape[0] * shape[1]} float32 values.`,
        );
      }
      variables.set(slotName, {
        name: slotName,
        table,
        slot: slot.name,
        value: new DenseTensor(data, shape),
      });
    }
  });
  return { variables, views };
}

/** Slot memory (and restore staging) is shared too, like the checkpoint reader's own allocations. */
export function allocateTable(shape: readonly [number, number]): Float32Array {
  return new Float32Array(new SharedArrayBuffer(shape[0] * shape[1] * Float32Array.BYTES_PER_ELEMENT));
}
