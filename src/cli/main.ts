#!/usr/bin/env node
/** The `tpu-embedding` command-line entry point. */
import { TpuEmbeddingError } from "../errors.js";
import { buildProgram } from "./program.js";

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  if (e instanceof TpuEmbeddingError) {
    process.stderr.write(`tpu-embedding: ${e.code}: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string") {
    // System errors (a port in use, a permission denied) are the user's to fix, not a crash to debug.
    process.stderr.write(`tpu-embedding: ${(e as NodeJS.ErrnoException).code}: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
