/** Structured logs: one JSON object per line on stderr (`{"time","level","event",...fields}`). */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  /** Whether `level` is written (optional; absent: every level may be). The server's other loops post only those. */
  enabled?(level: LogLevel): boolean;
}

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(options: { level?: LogLevel; write?: (line: string) => void } = {}): Logger {
  const threshold = LEVELS[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  return {
    enabled: (level) => LEVELS[level] >= threshold,
    log(level, event, fields = {}) {
      if (LEVELS[level] < threshold) return;
      write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
    },
  };
}

/** Discards everything (tests, library use). */
export const silentLogger: Logger = { log() {}, enabled: () => false };
