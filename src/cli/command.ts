import type { Command } from "commander";

/** A subcommand module adds itself to the `tpu-embedding` program. */
export type RegisterCommand = (program: Command) => void;
