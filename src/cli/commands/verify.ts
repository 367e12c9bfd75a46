/** `tpu-embedding verify <checkpoint>`: check every checksum and report each bad entry. */
import type { Command } from "commander";
import { BundleReader } from "../../checkpoint/bundle/bundle-reader.js";
import { resolveCheckpointPrefix } from "../../checkpoint/resolve.js";
import { TpuEmbeddingError } from "../../errors.js";
import { byteProgress } from "../progress.js";

interface VerifyOptions {
  json?: boolean;
}

/** Returns the number of problems found (0 = every checksum verified). */
export async function verify(
  checkpoint: string,
  options: VerifyOptions,
  out: (s: string) => void,
): Promise<number> {
  const prefix = await resolveCheckpointPrefix(checkpoint);
  let reader: BundleReader;
  try {
    reader = await BundleReader.open(prefix);
  } catch (e) {
    if (!(e instanceof TpuEmbeddingError)) throw e;
    if (options.json)
      out(
        JSON.stringify({
          prefix,
          ok: false,
          entriesChecked: 0,
          bytesChecked: 0,
          problems: [{ key: "(index)", message: e.message }],
        }),
      );
    else out(`BAD  (index): ${e.message}\n${prefix}: index unreadable, nothing else checked`);
    return 1;
  }
  try {
    const total = reader.listVariables().reduce((a, v) => a + v.entry.size, 0);
    const bar = byteProgress("verifying", total, !options.json && process.stdout.isTTY === true);
    let report;
    try {
      report = await reader.verify((n) => bar.add(n));
    } finally {
      bar.stop();
    }
    if (options.json) {
      out(JSON.stringify({ prefix, ok: report.problems.length === 0, ...report }));
    } else {
      for (const p of report.problems) out(`BAD  ${p.key}: ${p.message}`);
      out(
        `${prefix}: ${report.problems.length === 0 ? "OK" : `${report.problems.length} bad entr${report.problems.length === 1 ? "y" : "ies"}`}` +
          ` (${report.entriesChecked} entries, ${report.bytesChecked} data bytes checked, index blocks verified)`,
      );
    }
    return report.problems.length;
  } finally {
    await reader.close();
  }
}

export const registerVerify = (program: Command): void => {
  program
    .command("verify")
    .description(
      "verify every checksum of a checkpoint (index blocks, every tensor, slices) and report each bad entry",
    )
    .argument("<checkpoint>", "checkpoint prefix, its .index file, or a directory with a 'checkpoint' file")
    .option("--json", "machine-readable JSON output")
    .action(async (checkpoint: string, options: VerifyOptions) => {
      const problems = await verify(checkpoint, options, (s) => process.stdout.write(s + "\n"));
      if (problems > 0) process.exitCode = 1;
    });
};
