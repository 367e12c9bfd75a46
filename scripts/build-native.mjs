/* global process */
// Builds the optional native lookup kernels (native/*.c → build/Release/lookup_kernels.node)
// with node-gyp. Run by `npm install` / `npm ci` (the package's `install` script) and by hand. It never
// fails the install: without a compiler, Python or Node headers it warns and the package uses its
// WebAssembly / JS kernels. TPU_EMBEDDING_SKIP_NATIVE=1 skips the build.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function warn(message) {
  process.stderr.write(
    `[tpu-embedding] native kernels not built (${message}); using the WebAssembly kernels.\n`,
  );
}

/** node-gyp: the one npm runs scripts with, else npm's bundled copy, else one installed as a package. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(
      path.dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    ),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js"));
  } catch {
    // not installed as a package
  }
  return candidates.find((p) => p !== undefined && p !== "" && existsSync(p));
}

/** Node's own headers when they sit beside the binary (e.g. /usr/include/node): builds offline. */
function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined; // npm passes it through the environment
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  return existsSync(path.join(prefix, "include", "node", "node_api.h")) ? prefix : undefined;
}

if (process.env.TPU_EMBEDDING_SKIP_NATIVE === "1") {
  warn("TPU_EMBEDDING_SKIP_NATIVE=1");
} else {
  const gyp = nodeGyp();
  if (gyp === undefined) {
    warn("node-gyp not found");
  } else {
    const nodedir = localNodeDir();
    const args = [gyp, "rebuild", ...(nodedir !== undefined ? [`--nodedir=${nodedir}`] : [])];
    const result = spawnSync(process.execPath, args, {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 300_000,
    });
    if (result.status !== 0) {
      const lines = String(result.stderr ?? "").split("\n");
      const cause = lines.find((l) => /error|not found|No such file/i.test(l) && !l.startsWith("gyp ERR!"));
      const tail = (cause ?? lines.filter((l) => l.trim() !== "").slice(-1)[0] ?? "").trim();
      warn(result.error?.message ?? (tail || `node-gyp exited with ${result.status}`));
    }
  }
}
