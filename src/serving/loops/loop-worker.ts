import { Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { TpuEmbeddingError } from "../../errors.js";
import type { Logger } from "../log.js";
import { startRestServer } from "../http/server.js";
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

/** Questions to the main loop (a metrics scrape, a reload request) waiting for its answer, by id. */
const replies = new Map<number, (answer: ToLoop) => void>();
let nextId = 0;
function ask(question: (id: number) => FromLoop): Promise<ToLoop> {
  return new Promise((resolve) => {
    const id = nextId++;
    replies.set(id, resolve);
    post(question(id));
  });
}

const registry = new ReplicaRegistry(
  (model, version) => post({ type: "retired", model, version }),
  settings.reconfigurable
    ? async (models) => {
        const answer = await ask((id) => ({ type: "reconfigure", id, models }));
        if (answer.type === "reconfigured" && answer.error !== null)
          throw new TpuEmbeddingError(answer.error.code, answer.error.message);
      }
    : null,
);
let loop: { inject(socket: Socket, kind: ConnectionKind): void; metricsJson(): Promise<unknown> } | null =
  null;

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
    case "reconfigured":
      replies.get(m.id)?.(m);
      replies.delete(m.id);
      return;
    case "drain":
      // A drain may arrive before this loop serves: it waits for the start.
      void started
        .then((server) => server.close(m))
        .then(async () => {
          await registry.close();
          post({ type: "drained" });
        });
      return;
  }
});

const started = startRestServer(
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
    metricsText: async () => {
      const answer = await ask((id) => ({ type: "metrics-request", id }));
      return answer.type === "metrics-text" ? answer : { text: "", contentType: "text/plain" };
    },
  },
);
await started;
post({ type: "ready" });
