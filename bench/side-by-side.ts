/**
 * The performance table of docs/performance.md from one or more run_peers.sh result files: per variant,
 * batch and thread count, the median ids/s of tpu-embedding beside the C limit (best C kernel with at
 * most that many threads) and PyTorch's batched embedding_bag, with our ratio to each; p50 latency at
 * B=1; and whether our batch-0 checksum matches C's. When the files also hold `<impl>-fresh` lines (the
 * bench's `--outputs fresh`: new output arrays per lookup instead of caller-owned ones), they get a
 * column too. Several files (repeated runs) merge per configuration as the median of the per-run medians
 * (ids/s and p50).
 *
 *   node dist/bench/side-by-side.js /tmp/peer-bench/results/latest.jsonl [--impl tpu-embedding]
 */
import { readFileSync } from "node:fs";

interface Line {
  impl: string;
  variant: string;
  batch: number;
  threads: number;
  ids_per_s?: { median: number };
  p50_ms?: number;
  peak_rss_mb?: number;
  checksum?: [number, number];
  tables_mb?: number;
  /** The VM's steal time during the line's warm-up and repeats, and how long those took (lookup-bench). */
  steal_ms?: number;
  measured_ms?: number;
  /** The machine (bench/machine.ts): CPU, ISA level, kernel family, prefetch distance and its source. */
  cpu?: string;
  isa?: string | null;
  kernels?: string;
  prefetch?: number | null;
  prefetch_source?: string | null;
}

const args = process.argv.slice(2);
const implAt = args.indexOf("--impl");
const ours = implAt >= 0 ? args[implAt + 1] : "tpu-embedding";
const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--impl");
const lines: Line[] = files.flatMap((f) =>
  readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.ids_per_s !== undefined),
);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function pick(impl: (name: string) => boolean, variant: string, batch: number, threads: number): Line | null {
  const found = lines.filter((l) => impl(l.impl) && l.variant === variant && l.batch === batch);
  const byImpl = new Map<string, Line[]>();
  for (const l of found) {
    if (l.threads > threads || (!l.impl.startsWith("c-") && l.threads !== threads)) continue;
    byImpl.set(l.impl + "|" + l.threads, [...(byImpl.get(l.impl + "|" + l.threads) ?? []), l]);
  }
  let best: Line | null = null;
  for (const group of byImpl.values()) {
    const m = median(group.map((l) => l.ids_per_s!.median));
    const p50 = median(group.map((l) => l.p50_ms ?? Number.NaN));
    if (best === null || m > best.ids_per_s!.median)
      best = { ...group[0], ids_per_s: { median: m }, p50_ms: p50 };
  }
  return best;
}

const variants = [...new Set(lines.filter((l) => l.impl === ours).map((l) => l.variant))];
const m = (l: Line | null) => (l === null ? "–" : (l.ids_per_s!.median / 1e6).toFixed(1));
const ratio = (a: Line | null, b: Line | null) =>
  a === null || b === null ? "–" : (a.ids_per_s!.median / b.ids_per_s!.median).toFixed(2);

const fresh = `${ours}-fresh`;
const hasFresh = lines.some((l) => l.impl === fresh);
// The machine the lines were measured on: every distinct CPU / ISA / family / prefetch among ours.
const machines = [
  ...new Set(
    lines
      .filter((l) => l.impl === ours && l.cpu !== undefined)
      .map(
        (l) =>
          `${l.cpu}, ISA ${l.isa ?? "none"}, ${l.kernels} kernels, prefetch ${l.prefetch ?? "–"} ids` +
          (l.prefetch_source ? ` (${l.prefetch_source})` : ""),
      ),
  ),
];
console.log(`Machine: ${machines.length > 0 ? machines.join("; ") : "not recorded in these lines"}.\n`);
console.log(`M ids/s (median of repeats); ratios are ${ours} / peer.\n`);
console.log(
  "| variant | threads | batch | ours | C limit | torch batched | ours/C | ours/torch | ours p50 ms | C p50 ms |" +
    (hasFresh ? " ours, fresh outputs |" : ""),
);
console.log("|---|---|---|---|---|---|---|---|---|---|" + (hasFresh ? "---|" : ""));
for (const variant of variants) {
  for (const threads of [1, 2]) {
    for (const batch of [1, 64, 1024]) {
      const a = pick((i) => i === ours, variant, batch, threads);
      const c = pick((i) => i.startsWith("c-"), variant, batch, threads);
      const t = pick((i) => i === "torch-eb-batched", variant, batch, threads);
      if (a === null) continue;
      const f = hasFresh ? ` ${m(pick((i) => i === fresh, variant, batch, threads))} |` : "";
      console.log(
        `| ${variant} | ${threads} | ${batch} | ${m(a)} | ${m(c)} | ${m(t)} | ${ratio(a, c)} | ${ratio(a, t)} | ` +
          `${a.p50_ms?.toFixed(4) ?? "–"} | ${c?.p50_ms?.toFixed(4) ?? "–"} |${f}`,
      );
    }
  }
}
const checks = lines.filter((l) => l.impl === ours);
let mismatched = 0;
for (const l of checks) {
  const c = lines.find((x) => x.impl.startsWith("c-") && x.variant === l.variant && x.batch === l.batch);
  if (c?.checksum === undefined || l.checksum === undefined) continue;
  const close = (x: number, y: number) => Math.abs(x - y) <= 1e-4 * Math.max(1, Math.abs(y));
  if (!close(l.checksum[0], c.checksum[0]) || !close(l.checksum[1], c.checksum[1])) mismatched++;
}
// Lines timed while the hypervisor ran other guests on this VM's CPUs: their numbers are the machine's.
const stolen = checks.filter((l) => (l.steal_ms ?? 0) > 0.01 * (l.measured_ms ?? Infinity));
if (stolen.length > 0) {
  const where = stolen.map(
    (l) => `${l.variant} ${l.threads}T B=${l.batch} (${l.steal_ms} ms of ${l.measured_ms} ms)`,
  );
  console.log(`\nVM steal time (CPU given to other guests) while timing: ${where.join(", ")}.`);
}
const rss = Math.max(...checks.map((l) => l.peak_rss_mb ?? 0));
const tables = Math.max(...checks.map((l) => l.tables_mb ?? 0));
console.log(
  `\nChecksums vs C: ${checks.length - mismatched}/${checks.length} match. Peak RSS ${rss} MB ` +
    `(process, incl. the harness's prepared inputs); table arenas ${tables} MB.`,
);
