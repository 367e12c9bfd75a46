/**
 * `tpu-embedding demo` (what `npm start` runs): creates the demo model in TF Serving's layout if it is
 * missing, serves it like `tpu-embedding serve`, and prints ready-to-paste curl requests.
 */
import type { Command } from "commander";
import { resolve } from "node:path";
import { jsonLogger } from "../../serving/log.js";
import { DEMO_MODEL_NAME, demoCurl, ensureDemoModel } from "../demo-model.js";
import { addGrpcOptions, addServingOptions, exitOnSignals, serve, type ServeOptions } from "./serve.js";

type DemoOptions = Omit<ServeOptions, "modelName" | "modelBasePath" | "enableBatching"> & {
  dir: string;
  enableBatching?: boolean;
};

export const registerDemo = (program: Command): void => {
  const command = program
    .command("demo")
    .description("create a small demo model (once) in TF Serving's layout, serve it, and print curl requests")
    .option("--dir <dir>", "the demo model's base path", "demo-model");
  addGrpcOptions(addServingOptions(command)).action(async (options: DemoOptions) => {
    const logger = jsonLogger({ level: options.logLevel });
    const { created, versionDir } = await ensureDemoModel(options.dir);
    logger.log("info", created ? "demo-model-created" : "demo-model-found", { path: versionDir });
    const serving = await serve(
      {
        ...options,
        modelName: DEMO_MODEL_NAME,
        modelBasePath: resolve(options.dir),
        enableBatching: options.enableBatching ?? true,
      },
      logger,
    );
    exitOnSignals(serving);
    const out = (line: string) => process.stdout.write(line + "\n");
    out(
      `\nServing the demo model "${DEMO_MODEL_NAME}" from ${resolve(options.dir)} at ${serving.server.url}`,
    );
    if (serving.server.grpc !== undefined) {
      out(`gRPC (TF Serving's PredictionService, ModelService) at ${serving.server.grpc.url}`);
    }
    out(`Copy a new version folder next to ${versionDir} and it is picked up. Ctrl-C stops.\n`);
    out("Status:");
    out(`  ${demoCurl(serving.server.url)[0]}`);
    out("Predict (a bag of ids, a sequence, weighted ids, one id per example):");
    out(`  ${demoCurl(serving.server.url)[1]}\n`);
  });
};
