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
  } else {
    throw e;
  }
}
