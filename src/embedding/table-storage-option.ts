import { describeValue } from "../config/validate.js";
import type { TableConfig } from "../config/table-config.js";
import { InvalidArgumentError } from "../errors.js";
import { isStorageKind, STORAGE_KINDS, type StorageKind } from "../kernels/quantized-rows.js";
import { isObject } from "./lookup-arguments.js";

/** Each table's storage kind from the `tableStorage` option (validated: known kinds and table names). */
export function storageKindsOf(
  option: StorageKind | Readonly<Record<string, StorageKind>> | undefined,
  tables: readonly TableConfig[],
): StorageKind[] {
  const kinds = `one of ${STORAGE_KINDS.join(", ")}`;
  if (option === undefined) return tables.map(() => "float32");
  if (typeof option === "string") {
    if (!isStorageKind(option))
      throw new InvalidArgumentError(`tableStorage must be ${kinds}, got ${describeValue(option)}.`);
    return tables.map(() => option);
  }
  if (!isObject(option)) {
    throw new InvalidArgumentError(
      `tableStorage must be ${kinds}, or an object of them by table name; got ${describeValue(option)}.`,
    );
  }
  const names = new Set(tables.map((t) => t.name));
  for (const [name, kind] of Object.entries(option)) {
    if (!names.has(name)) {
      throw new InvalidArgumentError(
        `tableStorage names table "${name}", which is not a table of this embedding (tables: ` +
          `${[...names].join(", ")}).`,
      );
    }
    if (!isStorageKind(kind)) {
      throw new InvalidArgumentError(
        `tableStorage of table "${name}" must be ${kinds}, got ${describeValue(kind)}.`,
      );
    }
  }
  return tables.map((t) => (option as Record<string, StorageKind>)[t.name!] ?? "float32");
}
