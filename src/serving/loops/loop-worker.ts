import { Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { TpuEmbeddingError } from "../../errors.js";
import type { Logger } from "../log.js";
import { startRestServer, type RunningServer } from "../http/server.js";
import type { ConnectionKind, FromLoop, LoopSettings, ToLoop } from "./loop-messages.js";
import { ReplicaRegistry } from "./replica-registry.js";

/**
 * One of the server's other event loops (loop-hub.ts starts it): serves the REST connections the main
 * loop hands it, with the main loop's model versions rebuilt over the same table memory.
 */
const settings = workerData as LoopSettings;
const port = parentPort!;
const post = (message: FromLoop) => port.postMessage(message);

const enabled = new Set(settings.logLevels);
const logger: Logger = {
  enabled: (level) => enabled.has(level),
  log(level, event, fields = {}) {
    if (enabled.has(level)) post({ type: "log", level, event, fields: { loop: settings.loop, ...fields } });
  },
};

const reconfigures = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextReconfigure = 0;
const registry = new ReplicaRegistry(
  (model, version) => post({ type: "retired", model, version }),
  settings.reconfigurable
    ? (models) =>
        new Promise<void>((resolve, reject) => {
          const id = nextReconfigure++;
          reconfigures.set(id, { resolve, reject });
          post({ type: "reconfigure", id, models });
        })
    : null,
);
let loop: { inject(socket: Socket, kind: ConnectionKind): void; metricsJson(): Promise<unknown> } | null =
  null;
let nextMetrics = 0;
const metricsWaits = new Map<number, (m: { text: string; contentType: string }) => void>();
/** Resolves once this loop serves (a drain may arrive before). */
let started: Promise<RunningServer> | null = null;

port.on("message", (m: ToLoop) => {
  switch (m.type) {
    case "state":
      registry.setState(m.models);
      return;
    case "version":
      try {
        registry.addVersion(m.replica);
      } catch (error) {
        logger.log("error", "loop-version-failed", {
          model: m.replica.model,
          version: m.replica.version,
          error: String(error),
        });
      }
      return;
    case "retire":
      registry.retire(m.model, m.version);
      return;
    case "socket":
      loop!.inject(new Socket({ fd: m.fd, readable: true, writable: true }), m.kind);
      return;
    case "metrics":
      void loop!.metricsJson().then((json) => post({ type: "metrics", id: m.id, json }));
      return;
    case "metrics-text":
      metricsWaits.get(m.id)?.(m);
      metricsWaits.delete(m.id);
      return;
    case "reconfigured": {
      const waiting = reconfigures.get(m.id);
      reconfigures.delete(m.id);
      if (m.error === null) waiting?.resolve();
      else waiting?.reject(new TpuEmbeddingError(m.error.code, m.error.message));
      return;
    }
    case "drain":
      void started!
        .then((server) => server.close(m))
        .then(async () => {
          await registry.close();
          post({ type: "drained" });
        });
      return;
  }
});

started = startRestServer(
  {
    registry,
    logger,
    limits: settings.limits,
    batching: settings.batching,
    corsAllowedOrigins: settings.corsAllowedOrigins,
  },
  {
    ready: (l) => (loop = l),
    grpc: settings.grpc,
    connectionClosed: (address, kind) => post({ type: "closed", address, kind }),
    metricsText: () =>
      new Promise((resolve) => {
        const id = nextMetrics++;
        metricsWaits.set(id, resolve);
        post({ type: "metrics-request", id });
      }),
  },
);
await started;
post({ type: "ready" });
