/** A byte-count progress bar for long reads, shown only when stdout is a terminal. */
import cliProgress from "cli-progress";

/** Reads smaller than this finish too fast for a bar to be useful. */
const MIN_BYTES_FOR_BAR = 64 * 1024 * 1024;

export interface ByteProgress {
  /** Adds `bytes` to the count. */
  add(bytes: number): void;
  stop(): void;
}

export function byteProgress(
  label: string,
  totalBytes: number,
  enabled = process.stdout.isTTY === true,
): ByteProgress {
  if (!enabled || totalBytes < MIN_BYTES_FOR_BAR) return { add: () => undefined, stop: () => undefined };
  const mib = (n: number) => (n / 1048576).toFixed(0);
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {doneMiB}/{totalMiB} MiB | {eta_formatted}`,
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  bar.start(totalBytes, 0, { doneMiB: "0", totalMiB: mib(totalBytes) });
  return {
    add(bytes: number) {
      done += bytes;
      bar.update(done, { doneMiB: mib(done), totalMiB: mib(totalBytes) });
    },
    stop() {
      bar.stop();
    },
  };
}
