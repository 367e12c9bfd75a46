import { readFileSync } from "node:fs";
import { cpus } from "node:os";

/** The CPU model for benchmark lines: Node's name plus, on Linux, its family and model numbers. */
export function cpuName(): string {
  const name = cpus()[0]?.model.trim() ?? "unknown";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    if (family !== undefined && model !== undefined) return `${name} (family ${family} model ${model})`;
  } catch {
    // not Linux
  }
  return name;
}
