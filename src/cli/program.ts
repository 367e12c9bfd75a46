/** The `tpu-embedding` commander program; subcommands register themselves from this list. */
import { Command } from "commander";
import type { RegisterCommand } from "./command.js";
import { registerInspect } from "./commands/inspect.js";
import { registerVerify } from "./commands/verify.js";
import { registerDemo } from "./commands/demo.js";
import { registerServe } from "./commands/serve.js";

export const COMMANDS: RegisterCommand[] = [registerServe, registerDemo, registerInspect, registerVerify];

export function buildProgram(): Command {
  const program = new Command("tpu-embedding")
    .description("Serve TPU-trained TensorFlow embedding tables on CPU")
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}
