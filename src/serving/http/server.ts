import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { activeKernelFamily, activeKernelIsa } from "../../kernels/kernel-family.js";
import { silentLogger, type Logger } from "../log.js";
import type { ModelRegistry } from "../model-registry.js";
import { DEFAULT_BATCHING, MicroBatcher, type BatchingOptions } from "../batching/micro-batcher.js";
import { ServerMetrics } from "../metrics/server-metrics.js";
import { errorBody, HttpError, toErrorReply } from "./http-errors.js";
import { addCorsHeaders, checkPreflight } from "./cors.js";
import { MemoryBudget } from "./memory-budget.js";
import { metadataJson, statusJson } from "./model-info.js";
import { predict } from "./predict.js";
import { Connections, DRAIN_IDLE_GRACE_MS } from "./connections.js";
import { readBody } from "./read-body.js";
import { startGrpcServer, type RunningGrpcServer } from "../grpc/grpc-server.js";
import { matchRoute, type Route } from "./routes.js";
import { LoopHub } from "../loops/loop-hub.js";
import type { ConnectionKind } from "../loops/loop-messages.js";
import { listenOn } from "../listen.js";
import { RequestDeadline } from "./request-deadline.js";
import { checkedBatching, checkedLimits, checkedLoops, type ServerLimits } from "./server-limits.js";

export { DEFAULT_BATCHING, type BatchingOptions };
export { DEFAULT_LIMITS, type ServerLimits } from "./server-limits.js";

export interface ServerOptions {
  registry: ModelRegistry;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 8501 (TF Serving's REST port); 0 = any free port. */
  port?: number;
  logger?: Logger;
  limits?: Partial<ServerLimits>;
  batching?: Partial<BatchingOptions>;
  /**
   * CORS (TF Serving's `--rest_api_enable_cors_support`): `["*"]` for any origin, or exact origins to
   * allow. Default none: no `Access-Control-*` headers (`OPTIONS` preflights are answered either way).
   */
  corsAllowedOrigins?: readonly string[];
  /**
   * Also serve TF Serving's gRPC API (PredictionService, ModelService, grpc.health.v1) on this port
   * (TF Serving's `--port`, 8500; 0 = any free port), sharing the batcher, limits and metrics. Undefined: no gRPC.
   */
  grpcPort?: number;
  /**
   * Event loops serving REST and gRPC (an integer >= 1; default 1): this thread's and `loops - 1` worker threads'.
   * Each loop parses, looks up (in the same table memory: nothing is copied) and answers the connections
   * this thread hands it, so the server uses more than one core. Needs the native addon; without it, one loop.
   * Batching, `maxConcurrentRequests` and `maxInFlightBytes` apply per loop; connection limits, metrics,
   * model versions and hot reloads are the server's as a whole. gRPC connections are handed out the same way
   * (docs/serving.md).
   */
  loops?: number;
}

/**
 * How a loop other than the main one is served (loop-worker.ts): its connections come from the main
 * loop's acceptor, and a scrape of its metrics is answered by the main loop, with every loop's added up.
 */
export interface LoopRole {
  /** Whether the server serves gRPC: this loop then serves the gRPC connections it is handed too. */
  readonly grpc: boolean;
  /** Called once the loop is set up: `inject` serves a connection, `metricsJson` reads this loop's metrics. */
  ready(loop: { inject(socket: Socket, kind: ConnectionKind): void; metricsJson(): Promise<unknown> }): void;
  connectionClosed(address: string, kind: ConnectionKind): void;
  metricsText(): Promise<{ readonly text: string; readonly contentType: string }>;
}

export interface RunningServer {
  /** e.g. "http://127.0.0.1:8501". */
  readonly url: string;
  readonly port: number;
  /** Open client connections now (REST, every loop). */
  readonly connections: number;
  /** Event loops serving REST (1 without `loops`, or when the addon is missing). */
  readonly loops: number;
  /** The gRPC port and base URL (plain-text HTTP/2), when `grpcPort` was given. */
  readonly grpc?: { readonly port: number; readonly url: string };
  /**
   * Stops accepting connections and drains: every request that reaches an open connection is answered
   * (the last one on each connection with `Connection: close`), connections with nothing outstanding
   * are closed once quiet for `idleGraceMs` (default 500); after `drainTimeoutMs` the rest are closed.
   * gRPC stops accepting calls at once and answers those in flight.
   */
  close(options?: { drainTimeoutMs?: number; idleGraceMs?: number }): Promise<void>;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Starts the TF Serving compatible REST server (docs/serving.md) and resolves once it listens. */
export function startServer(options: ServerOptions): Promise<RunningServer> {
  return startRestServer(options, null);
}

/** `startServer`, or (with a `role`) one of its other loops, which listens on nothing itself. */
export async function startRestServer(options: ServerOptions, role: LoopRole | null): Promise<RunningServer> {
  const registry = options.registry;
  const logger = options.logger ?? silentLogger;
  const limits = checkedLimits(options.limits);
  const batching = checkedBatching(options.batching);
  const loops = checkedLoops(options.loops, registry);
  const metrics = new ServerMetrics(registry, { requestsOnly: role !== null });
  const batcher = new MicroBatcher(batching, (s) => metrics.observeBatch(s.model, s.requests, s.examples));
  const corsAllowedOrigins = options.corsAllowedOrigins ?? [];
  const budget = new MemoryBudget(limits.maxInFlightBytes);
  // A request the server-wide budget could never hold is refused by the per-request check instead.
  const predictLimits = {
    ...limits,
    maxRequestBytes: Math.min(limits.maxRequestBytes, limits.maxInFlightBytes),
  };
  let inFlight = 0;
  let closing = false;
  /** The other loops, when there are (`loops` > 1). */
  let hub: LoopHub | null = null;
  let grpcInFlight = 0;
  let grpcDrained: (() => void) | null = null;
  /** Admits a gRPC predict into the same in-flight count (limit) as REST's; shutdown waits for it. */
  const admit = (): (() => void) => {
    if (closing) throw new HttpError(503, "UNAVAILABLE", "The server is shutting down.");
    if (inFlight >= limits.maxConcurrentRequests) {
      throw new HttpError(
        429,
        "RESOURCE_EXHAUSTED",
        `Too many requests in flight (limit ${limits.maxConcurrentRequests}, --max-concurrent-requests); retry later.`,
      );
    }
    inFlight++;
    grpcInFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      inFlight--;
      if (--grpcInFlight === 0 && grpcDrained !== null) grpcDrained();
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = performance.now();
    connections.begin(req, res);
    const method = req.method ?? "GET";
    const pathname = (req.url ?? "/").split("?")[0];
    let api = "unknown";
    let model = "";
    let countsInFlight = false;
    const deadline = new RequestDeadline(limits.requestTimeoutMs, start);
    addCorsHeaders(req, res, corsAllowedOrigins);
    try {
      if (method === "OPTIONS") {
        checkPreflight(req);
        send(res, 200, "text/plain", "");
        return;
      }
      const route: Route = matchRoute(method, pathname);
      api = route.kind;
      if (route.kind === "metrics") {
        if (role !== null) {
          const all = await role.metricsText();
          send(res, 200, all.contentType, all.text);
        } else {
          const extra = registry.extraMetrics === undefined ? "" : await registry.extraMetrics.metrics();
          const own = hub === null ? await metrics.registry.metrics() : await hub.metricsText();
          send(res, 200, metrics.registry.contentType, own + extra);
        }
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
        // The body first: a body still arriving holds no slot (its deadline bounds how long it may take).
        const body = await deadline.race(readBody(req, limits));
        if (inFlight >= limits.maxConcurrentRequests) {
          throw new HttpError(
            429,
            "RESOURCE_EXHAUSTED",
            `Too many requests in flight (limit ${limits.maxConcurrentRequests}, --max-concurrent-requests); retry later.`,
          );
        }
        inFlight++;
        countsInFlight = true;
        const work = predict(
          registry,
          batcher,
          route,
          req.headers["content-type"],
          body,
          predictLimits,
          budget,
        );
        // Past the deadline the request's memory is given back once its lookup and answer are done.
        work.then(
          (reply) => {
            if (res.destroyed || res.writableFinished) reply.release();
            else res.once("close", () => reply.release());
          },
          () => {},
        );
        const reply = await deadline.race(work);
        metrics.observeIds(route.model, reply.ids);
        send(res, 200, reply.contentType, reply.body);
      }
    } catch (error) {
      const reply = toErrorReply(error);
      // A refused body may still be arriving: close the connection rather than read it.
      const close = reply.status === 408 || reply.status === 413 || reply.status === 504;
      send(res, reply.status, "application/json", errorBody(reply.message), close);
      if (reply.status >= 500 && reply.code === "INTERNAL") {
        logger.log("error", "request-failed", {
          method,
          path: pathname,
          error: (error as Error)?.stack ?? String(error),
        });
      }
    } finally {
      deadline.clear();
      if (countsInFlight) inFlight--;
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
    // Draining: the response to a connection's latest request closes it (pipelined ones are answered).
    if (close || (closing && connections.closesAfter(res))) headers.Connection = "close";
    res.writeHead(status, headers);
    for (let i = 0; i < pieces.length - 1; i++) res.write(pieces[i]);
    res.end(pieces[pieces.length - 1]);
  };

  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      headersTimeout: limits.headersTimeoutMs,
      // Node's own whole-request limit, a backstop behind the body deadline and requestTimeoutMs.
      requestTimeout: limits.headersTimeoutMs + limits.requestTimeoutMs,
      // How often Node checks those: often enough that a slow header is cut close to its deadline.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      handle(req, res).catch((error) => logger.log("error", "handler-crashed", { error: String(error) }));
    },
  );
  server.maxConnections = limits.maxConnections;
  // -Infinity: the first refusal is logged at once, even within a second of the process starting.
  let refusedLogged = -Infinity;
  let refusedSince = 0;
  const logRefused = (address: string) => {
    // At most one line a second: a client hammering the limit must not flood the logs.
    refusedSince++;
    const now = performance.now();
    if (now - refusedLogged >= 1000) {
      refusedLogged = now;
      logger.log("warn", "connection-refused", {
        address,
        limit: limits.maxConnectionsPerClient,
        refused: refusedSince,
      });
      refusedSince = 0;
    }
  };
  const connections = new Connections(server, limits.maxConnectionsPerClient, logRefused);
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Headers too slow (Node's headersTimeout), malformed or too large. `end()` alone would half-close
    // and then wait for the client's FIN, which a client that never reads does not send: the
    // connection is destroyed once the short answer is flushed (or after a second at most).
    const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && (answering === undefined || answering === null || !answering.headersSent)) {
      const status =
        error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "408 Request Timeout"
          : error.code === "HPE_HEADER_OVERFLOW"
            ? "431 Request Header Fields Too Large"
            : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    if (socket.writableFinished || socket.destroyed) {
      socket.destroy();
    } else {
      socket.once("finish", () => socket.destroy());
      setTimeout(() => socket.destroy(), 1000).unref();
    }
  });

  const host = options.host ?? "127.0.0.1";
  const servesGrpc = role === null ? options.grpcPort !== undefined : role.grpc;
  if (role === null && loops > 1) {
    hub = await LoopHub.start(
      loops - 1,
      { limits, batching, corsAllowedOrigins, grpc: servesGrpc },
      registry,
      logger,
      () => metrics.registry,
    );
  }
  // With other loops, connections are accepted paused by acceptors and handed out; else the servers listen.
  const acceptorFor = (kind: ConnectionKind, serveHere: (s: Socket) => void) =>
    createNetServer({ pauseOnConnect: true }, (socket) => {
      const limit = { maxConnections: limits.maxConnections, maxPerClient: limits.maxConnectionsPerClient };
      if (hub!.dispatch(socket, kind, limit, serveHere) === "client") logRefused(socket.remoteAddress ?? "");
    });
  const restAcceptor =
    hub === null
      ? null
      : acceptorFor("rest", (s) => {
          server.emit("connection", s);
          s.resume();
        });
  const listening = restAcceptor ?? server;
  let grpcAcceptor: NetServer | null = null;
  let grpc: RunningGrpcServer | undefined;
  let port = 0;
  let grpcAddress: { port: number; url: string } | undefined;
  const urlOf = (p: number) => `http://${host.includes(":") ? `[${host}]` : host}:${p}`;
  try {
    if (role === null) port = await listenOn(listening, options.port ?? 8501, host);
    if (servesGrpc) {
      grpc = await startGrpcServer({
        registry,
        batcher,
        metrics,
        limits: predictLimits,
        logger,
        host,
        // Handed its connections by an acceptor (several loops) or by the main loop (another loop).
        port: hub === null && role === null ? options.grpcPort! : null,
        admit,
        budget,
      });
      if (hub !== null) {
        const served = grpc;
        grpcAcceptor = acceptorFor("grpc", (s) => served.inject(s));
        const grpcPort = await listenOn(grpcAcceptor, options.grpcPort!, host);
        grpcAddress = { port: grpcPort, url: urlOf(grpcPort) };
        logger.log("info", "grpc-server-listening", { url: grpcAddress.url });
      } else if (role === null) grpcAddress = { port: grpc.port, url: grpc.url };
    }
  } catch (e) {
    listening.close();
    grpcAcceptor?.close();
    await grpc?.close(0);
    await hub?.close();
    metrics.close();
    throw e;
  }
  const url = urlOf(port);
  if (role !== null) {
    role.ready({
      inject(socket, kind) {
        const address = socket.remoteAddress ?? "";
        socket.once("close", () => role.connectionClosed(address, kind));
        if (kind === "rest") server.emit("connection", socket);
        else if (grpc !== undefined) grpc.inject(socket);
        else socket.destroy();
      },
      metricsJson: () => metrics.registry.getMetricsAsJSON(),
    });
  } else {
    logger.log("info", "server-listening", {
      url,
      loops: hub?.size ?? 1,
      grpcUrl: grpcAddress?.url,
      limits,
      batching,
      kernels: activeKernelFamily(),
      isa: activeKernelIsa(),
    });
  }

  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    grpc: grpcAddress,
    get connections() {
      return hub === null ? connections.size : hub.connections;
    },
    get loops() {
      return hub?.size ?? 1;
    },
    close(closeOptions = {}) {
      closed ??= (async () => {
        closing = true;
        grpc?.stopAccepting();
        batcher.flushAll();
        const timeoutMs = closeOptions.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
        const grpcDone =
          grpcInFlight === 0
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                const t = setTimeout(resolve, timeoutMs);
                grpcDrained = () => {
                  clearTimeout(t);
                  resolve();
                };
              });
        restAcceptor?.close();
        grpcAcceptor?.close();
        await Promise.all([
          connections.drain(timeoutMs, closeOptions.idleGraceMs ?? DRAIN_IDLE_GRACE_MS),
          hub?.drain(closeOptions),
          grpcDone,
        ]);
        await grpc?.close();
        await hub?.close();
        metrics.close();
        if (role === null) logger.log("info", "server-closed", { url });
      })();
      return closed;
    },
  };
}
