#!/usr/bin/env node
/**
 * The `tpu-embedding` command-line entry point. Exit codes: 0 ok, 1 `verify` found bad entries, 2 any
 * error (a usage error such as an unknown flag or a missing argument, a bad value, a missing file, a
 * port in use), with the message on stderr.
 */
import { CommanderError } from "commander";
import { TpuEmbeddingError } from "../errors.js";
import { buildProgram } from "./program.js";

/** Exit code of every error (usage or runtime), distinct from `verify`'s 1 for bad entries. */
export const EXIT_ERROR = 2;

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander has printed the message (and usage); --help and --version exit 0.
    process.exitCode = e.exitCode === 0 ? 0 : EXIT_ERROR;
  } else if (e instanceof TpuEmbeddingError) {
    process.stderr.write(`tpu-embedding: ${e.code}: ${e.message}\n`);
    process.exitCode = EXIT_ERROR;
  } else if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string") {
    // System errors (a port in use, a permission denied) are the user's to fix, not a crash to debug.
    process.stderr.write(`tpu-embedding: ${(e as NodeJS.ErrnoException).code}: ${e.message}\n`);
    process.exitCode = EXIT_ERROR;
  } else {
    throw e;
  }
}
