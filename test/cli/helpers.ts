/** Spawning the real CLI in tests. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface Running {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** Spawns the real CLI and waits for the line that says where it listens. */
export async function spawnCli(args: string[], readyPattern = /at (http:\/\/\S+)/): Promise<Running> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    let nl;
    while ((nl = stderr.indexOf("\n")) >= 0) {
      const line = stderr.slice(0, nl);
      stderr = stderr.slice(nl + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ text: line });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const m = readyPattern.exec(stdout);
      if (m) resolve(m[1]);
    });
    void exited.then((code) =>
      reject(new Error(`CLI exited with ${code} before serving: ${JSON.stringify(logs)} ${stdout}`)),
    );
  });
  return { proc, url, logs, exited };
}
