import { readFileSync } from "node:fs";

/**
 * CPU time the hypervisor gave to other guests ("steal", summed over this VM's CPUs) since boot, in ms;
 * null where /proc/stat does not say. A timed phase with steal time ran on a machine that was partly
 * not ours, which explains throughput that a rerun does not reproduce. /proc/stat counts in USER_HZ
 * ticks, 100 per second on Linux's every common configuration.
 */
export function stealMs(): number | null {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/);
    // cpu user nice system idle iowait irq softirq steal ...
    const ticks = Number(cpu[8]);
    return cpu[0] === "cpu" && Number.isFinite(ticks) ? ticks * 10 : null;
  } catch {
    return null;
  }
}
