/** The `tpu-embedding` commander program; subcommands register themselves from this list. */
import { Command } from "commander";
import { readFileSync } from "node:fs";
import type { RegisterCommand } from "./command.js";
import { registerInspect } from "./commands/inspect.js";
import { registerVerify } from "./commands/verify.js";
import { registerDemo } from "./commands/demo.js";
import { registerServe } from "./commands/serve.js";
import { registerPublish } from "./commands/publish.js";

export const COMMANDS: RegisterCommand[] = [
  registerServe,
  registerDemo,
  registerInspect,
  registerVerify,
  registerPublish,
];

/** The package's version, from its package.json (dist/src/cli → the package root). */
export function packageVersion(): string {
  const url = new URL("../../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

/**
 * Usage errors (unknown flag, missing argument) throw a CommanderError instead of exiting 1, so main.ts
 * exits 2 for them, apart from `verify`'s 1 for bad entries.
 */
export function buildProgram(): Command {
  const program = new Command("tpu-embedding")
    .description("Serve TPU-trained TensorFlow embedding tables on CPU")
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .exitOverride()
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}
