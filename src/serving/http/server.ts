import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { InvalidArgumentError } from "../../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type { ModelRegistry } from "../model-registry.js";
import { DEFAULT_BATCHING, MicroBatcher, type BatchingOptions } from "../batching/micro-batcher.js";
import { ServerMetrics } from "../metrics/server-metrics.js";
import { errorBody, HttpError, toErrorReply } from "./http-errors.js";
import { MemoryBudget } from "./memory-budget.js";
import { metadataJson, statusJson } from "./model-info.js";
import { predict } from "./predict.js";
import { readBody } from "./read-body.js";
import { matchRoute, type Route } from "./routes.js";

export { DEFAULT_BATCHING, type BatchingOptions };

export interface ServerLimits {
  /** Largest request body; beyond → 413. */
  maxBodyBytes: number;
  /** Most ids (all features together) in one predict request; beyond → 400. */
  maxIdsPerRequest: number;
  /** Most float32 values in one predict answer (all features), checked before the lookup; beyond → 400. */
  maxOutputValues: number;
  /** From the request's arrival to its answer; beyond → 504 DEADLINE_EXCEEDED. */
  requestTimeoutMs: number;
  /** Predict requests in flight; beyond → 429 RESOURCE_EXHAUSTED. */
  maxConcurrentRequests: number;
  /**
   * Estimated bytes one predict request may make the server allocate (its body, decoded inputs, the
   * lookup's intermediate arrays, output and answer; request-cost.ts), checked before any of it is
   * allocated; beyond → 400 naming the feature.
   */
  maxRequestBytes: number;
  /**
   * Estimated bytes all predict requests in flight may hold together; a request that would exceed it
   * waits up to `memoryWaitMs` for others to finish, then gets 429 RESOURCE_EXHAUSTED.
   */
  maxInFlightBytes: number;
  /** How long a request waits for room in `maxInFlightBytes` before its 429. */
  memoryWaitMs: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 64 * 1024 * 1024,
  maxIdsPerRequest: 1_000_000,
  maxOutputValues: 32 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxConcurrentRequests: 1024,
  maxRequestBytes: 256 * 1024 * 1024,
  maxInFlightBytes: 1024 * 1024 * 1024,
  memoryWaitMs: 5000,
});

export interface ServerOptions {
  registry: ModelRegistry;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 8501 (TF Serving's REST port); 0 = any free port. */
  port?: number;
  logger?: Logger;
  limits?: Partial<ServerLimits>;
  batching?: Partial<BatchingOptions>;
}

export interface RunningServer {
  /** e.g. "http://127.0.0.1:8501". */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, drains in-flight requests (up to drainTimeoutMs), then closes. */
  close(options?: { drainTimeoutMs?: number }): Promise<void>;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Starts the TF Serving compatible REST server (docs/serving-api.md) and resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const registry = options.registry;
  const logger = options.logger ?? silentLogger;
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...definedOnly(options.limits) };
  const batching: BatchingOptions = { ...DEFAULT_BATCHING, ...definedOnly(options.batching) };
  checkPositive(limits);
  checkBatching(batching);
  const metrics = new ServerMetrics(registry);
  const batcher = new MicroBatcher(batching, (s) => metrics.observeBatch(s.model, s.requests, s.examples));
  const budget = new MemoryBudget(limits.maxInFlightBytes);
  // A request the server-wide budget could never hold is refused by the per-request check instead.
  const predictLimits = {
    ...limits,
    maxRequestBytes: Math.min(limits.maxRequestBytes, limits.maxInFlightBytes),
  };
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | null = null;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = performance.now();
    const method = req.method ?? "GET";
    const pathname = (req.url ?? "/").split("?")[0];
    let api = "unknown";
    let model = "";
    let countsInFlight = false;
    try {
      const route: Route = matchRoute(method, pathname);
      api = route.kind;
      if (route.kind === "metrics") {
        send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
      } else if (route.kind === "status") {
        model = route.model;
        send(res, 200, "application/json", statusJson(registry, route));
      } else if (route.kind === "metadata") {
        model = route.model;
        const lease = registry.acquire(route.model, { version: route.version, label: route.label });
        try {
          send(res, 200, "application/json", metadataJson(lease.model));
        } finally {
          lease.release();
        }
      } else {
        model = route.model;
        if (closing) throw new HttpError(503, "UNAVAILABLE", "The server is shutting down.");
        if (inFlight >= limits.maxConcurrentRequests) {
          throw new HttpError(
            429,
            "RESOURCE_EXHAUSTED",
            `Too many requests in flight (limit ${limits.maxConcurrentRequests}, --max-concurrent-requests); retry later.`,
          );
        }
        inFlight++;
        countsInFlight = true;
        const work = readBody(req, limits.maxBodyBytes).then((body) =>
          predict(registry, batcher, route, req.headers["content-type"], body, predictLimits, budget),
        );
        // Past the deadline the request's memory is given back once its lookup and answer are done.
        work.then(
          (reply) => {
            if (res.destroyed || res.writableFinished) reply.release();
            else res.once("close", () => reply.release());
          },
          () => {},
        );
        const reply = await withDeadline(work, limits.requestTimeoutMs);
        metrics.observeIds(route.model, reply.ids);
        send(res, 200, reply.contentType, reply.body);
      }
    } catch (error) {
      const reply = toErrorReply(error);
      // A refused body may still be arriving: close the connection rather than read it.
      const close = reply.status === 413 || reply.status === 504;
      send(res, reply.status, "application/json", errorBody(reply.message), close);
      if (reply.status >= 500 && reply.code === "INTERNAL") {
        logger.log("error", "request-failed", {
          method,
          path: pathname,
          error: (error as Error)?.stack ?? String(error),
        });
      }
    } finally {
      if (countsInFlight && --inFlight === 0 && drained !== null) drained();
      const seconds = (performance.now() - start) / 1000;
      // Only served model names become label values: a URL must not grow the metrics without bound.
      const modelLabel = registry.modelNames().includes(model) ? model : "";
      metrics.observeRequest(modelLabel, api, res.statusCode, seconds);
      const level = res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "info" : "debug";
      logger.log(level, "request", {
        method,
        path: pathname,
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
      });
    }
  };

  const send = (
    res: ServerResponse,
    status: number,
    contentType: string,
    body: string | Uint8Array | readonly Uint8Array[],
    close = false,
  ) => {
    if (res.headersSent) return;
    const pieces =
      typeof body === "string" ? [Buffer.from(body)] : body instanceof Uint8Array ? [body] : body;
    let length = 0;
    for (const p of pieces) length += p.byteLength;
    const headers: Record<string, string | number> = {
      "Content-Type": contentType,
      "Content-Length": length,
    };
    if (close || closing) headers.Connection = "close";
    res.writeHead(status, headers);
    for (let i = 0; i < pieces.length - 1; i++) res.write(pieces[i]);
    res.end(pieces[pieces.length - 1]);
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((error) => logger.log("error", "handler-crashed", { error: String(error) }));
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8501, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.log("info", "server-listening", { url, limits, batching });

  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    close(closeOptions = {}) {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        batcher.flushAll();
        if (inFlight > 0) {
          const timeoutMs = closeOptions.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, timeoutMs);
            drained = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        server.closeAllConnections();
        await stopped;
        metrics.close();
        logger.log("info", "server-closed", { url });
      })();
      return closed;
    },
  };
}

/**
 * Rejects with 504 DEADLINE_EXCEEDED after `ms`. The work itself goes on (a lookup cannot be interrupted)
 * and still releases its lease when it settles; its late result or error is dropped.
 */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(504, "DEADLINE_EXCEEDED", `Request timed out after ${ms} ms (--request-timeout-ms).`),
        ),
      ms,
    );
  });
  work.catch(() => {}); // reported through the race, or lost to the deadline
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function definedOnly<T extends object>(values: Partial<T> | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(values ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkPositive(limits: ServerLimits): void {
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value < 0 || (value === 0 && key !== "memoryWaitMs")) {
      throw new InvalidArgumentError(`startServer: limits.${key} must be a positive number, got ${value}.`);
    }
  }
}

function checkBatching(b: BatchingOptions): void {
  if (!Number.isInteger(b.maxBatchExamples) || b.maxBatchExamples < 1) {
    throw new InvalidArgumentError(
      `startServer: batching.maxBatchExamples must be an integer >= 1, got ${b.maxBatchExamples}.`,
    );
  }
  if (!Number.isFinite(b.batchTimeoutMicros) || b.batchTimeoutMicros < 0) {
    throw new InvalidArgumentError(
      `startServer: batching.batchTimeoutMicros must be >= 0, got ${b.batchTimeoutMicros}.`,
    );
  }
}
