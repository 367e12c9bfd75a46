import { InvalidArgumentError } from "../errors.js";

/** Formats a value the way TF error messages show it, keeping strings quoted and functions named. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(describeValue).join(", ")}]`;
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return String(value);
}

export function fail(owner: string, argument: string, requirement: string, value: unknown): never {
  throw new InvalidArgumentError(
    `${owner}: argument \`${argument}\` ${requirement}. Received: ${describeValue(value)}`,
  );
}

export function requireNumber(owner: string, argument: string, value: unknown): number {
  if (typeof value !== "number" || Number.isNaN(value)) fail(owner, argument, "must be a number", value);
  return value;
}

export function optionalNumber(owner: string, argument: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  return requireNumber(owner, argument, value);
}

export function requireBoolean(owner: string, argument: string, value: unknown): boolean {
  if (typeof value !== "boolean") fail(owner, argument, "must be a boolean", value);
  return value;
}

/** Rejects option keys that the class does not know (TS catches typos at compile time; JS callers here). */
export function rejectUnknownOptions(owner: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        `${owner}: unknown option \`${key}\`. Known options: ${known.join(", ")}.`,
      );
    }
  }
}
