import { readFileSync } from "node:fs";
import os from "node:os";
import { nativeIsa } from "../src/kernels/native-addon.js";

/**
 * What a benchmark line ran on: the CPU (model, and family/model where /proc/cpuinfo says), the native
 * kernels' ISA level and prefetch distance in this process (null without the addon), and the kernel
 * family the caller names. Every JSON line of lookup-bench and kernel-bench carries these fields, so
 * numbers of one machine are never read as another's.
 */
export interface MachineFields {
  cpu: string;
  isa: string | null;
  kernels: string;
  prefetch: number | null;
  prefetch_source: string | null;
}

function cpuName(): string {
  const model = os.cpus()[0]?.model?.trim() ?? "unknown CPU";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(info)?.[1]?.trim();
    const family = field("cpu family");
    const number = field("model");
    return family !== undefined && number !== undefined
      ? `${model} (family ${family} model ${number})`
      : model;
  } catch {
    return model;
  }
}

export function machineFields(kernels: string): MachineFields {
  const isa = nativeIsa();
  return {
    cpu: cpuName(),
    isa: isa?.active ?? null,
    kernels,
    prefetch: isa?.prefetch ?? null,
    prefetch_source: isa?.prefetchSource ?? null,
  };
}
