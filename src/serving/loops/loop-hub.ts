import type { Socket } from "node:net";
import { Worker } from "node:worker_threads";
import { AggregatorRegistry, type Registry } from "prom-client";
import { describeReplica } from "../../embedding/index.js";
import { LOG_LEVELS, type Logger } from "../log.js";
import type { ModelEvent, ModelLease, ModelRegistry } from "../model-registry.js";
import { TpuEmbeddingError } from "../../errors.js";
import { duplicateDescriptor } from "./socket-hand-off.js";
import type {
  ConnectionKind,
  FromLoop,
  LoopSettings,
  ModelState,
  ToLoop,
  VersionReplica,
} from "./loop-messages.js";

/** How often the main loop checks whether its models' states (versions, labels) changed. */
const STATE_POLL_MS = 1000;
/** How long a scrape waits for a loop's metrics before answering without them. */
const METRICS_WAIT_MS = 2000;
/** A loop that exits is started again, at most once this often (a loop that keeps failing is not spun). */
const RESTART_INTERVAL_MS = 1000;

interface Loop {
  /** Its number (1, 2, ...; the main loop is 0). */
  readonly index: number;
  readonly worker: Worker;
  readonly startedAt: number;
  /** Started and serving: connections are handed to it only then. */
  ready: boolean;
  /** Settles when it serves, or fails if it exits first. */
  readonly started: Promise<void>;
  /** Set while a drain waits for it. */
  drained: (() => void) | null;
  /** Open connections handed to it (REST and gRPC: what the loops are balanced on). */
  connections: number;
  alive: boolean;
  /** Its open REST connections by client address. */
  readonly addresses: Map<string, number>;
}

interface Shared {
  readonly lease: ModelLease;
  readonly replica: VersionReplica;
  /** Loops still holding it once it is retired. */
  readonly holders: Set<Loop>;
  retired: boolean;
}

/** Test hook: the hubs running in this process's main thread (a test stops a loop as if it had failed). */
export const runningHubs = new Set<LoopHub>();

/**
 * The main loop's side of a server with several event loops (`loops`): starts the other loops as worker
 * threads, hands each accepted connection to the loop with the fewest (this one included), enforces the
 * connection limits across all of them, shares every loaded version with them (the same table memory,
 * leased until each loop has let go of it), and adds their metrics up for a scrape.
 */
export class LoopHub {
  private readonly loops: Loop[] = [];
  private readonly shared = new Map<string, Shared>();
  /** Open REST connections of every loop by client address, and in all (what the limits count). */
  private readonly perAddress = new Map<string, number>();
  private restOpen = 0;
  /** This loop's open connections (REST and gRPC). */
  private localConnections = 0;
  private state = "";
  private readonly stateTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private nextId = 0;
  /** The loop (0: this one) that wins the next tie. */
  private turn = 0;
  private readonly metricsWaits = new Map<number, { pending: number; jsons: unknown[]; done: () => void }>();
  private readonly settings: Omit<LoopSettings, "loop">;
  private closing = false;

  private constructor(
    count: number,
    settings: Omit<LoopSettings, "loop" | "logLevels" | "reconfigurable">,
    private readonly registry: ModelRegistry,
    private readonly logger: Logger,
    private readonly localMetrics: () => Registry,
  ) {
    this.settings = {
      ...settings,
      logLevels: LOG_LEVELS.filter((level) => logger.enabled?.(level) ?? true),
      reconfigurable: registry.reconfigure !== undefined,
    };
    for (let i = 1; i <= count; i++) this.loops.push(this.startLoop(i));
    this.publishState();
    for (const model of registry.modelNames())
      for (const s of registry.status(model)) if (s.state === "AVAILABLE") this.share(model, s.version);
    this.unsubscribe = registry.onEvent((event) => this.onEvent(event));
    this.stateTimer = setInterval(() => this.publishState(), STATE_POLL_MS).unref();
  }

  /** A new loop numbered `index`; it is given the models' state and versions by the caller. */
  private startLoop(index: number): Loop {
    const workerData: LoopSettings = { ...this.settings, loop: index };
    const worker = new Worker(new URL("./loop-worker.js", import.meta.url), { workerData });
    let ready = () => {};
    let failed: (e: Error) => void = () => {};
    const started = new Promise<void>((resolve, reject) => ([ready, failed] = [resolve, reject]));
    started.catch(() => {}); // a restarted loop's failure is logged by "exit"; only start() awaits it
    const loop: Loop = {
      index,
      worker,
      startedAt: performance.now(),
      ready: false,
      started,
      drained: null,
      connections: 0,
      alive: true,
      addresses: new Map(),
    };
    worker.on("message", (m: FromLoop) => {
      if (m.type === "ready") {
        loop.ready = true;
        ready();
      } else this.onMessage(loop, m);
    });
    worker.on("error", (error) => {
      this.logger.log("error", "loop-failed", { loop: index, error: error.stack ?? String(error) });
    });
    worker.on("exit", (code) => {
      failed(new Error(`Event loop ${index} exited (${code}) before it served.`));
      this.exited(loop, code);
    });
    return loop;
  }

  /**
   * A loop exited: its connections are gone with it, and it holds no version any more. Unless the server
   * is closing, a new loop takes its place (its clients reconnect as to any server that dropped them).
   */
  private exited(loop: Loop, code: number): void {
    this.lost(loop);
    if (this.closing) return;
    const wait = Math.max(0, loop.startedAt + RESTART_INTERVAL_MS - performance.now());
    this.logger.log("error", "loop-exited", { loop: loop.index, code, restartInMs: Math.round(wait) });
    setTimeout(() => {
      if (this.closing) return;
      const next = this.startLoop(loop.index);
      this.loops[loop.index - 1] = next;
      this.post(next, { type: "state", models: this.models() });
      for (const entry of this.shared.values()) {
        if (entry.retired) continue;
        entry.holders.add(next);
        this.post(next, { type: "version", replica: entry.replica });
      }
    }, wait).unref();
  }

  /** Starts `count` more loops and resolves once each is ready to serve. */
  static async start(
    count: number,
    settings: Omit<LoopSettings, "loop" | "logLevels" | "reconfigurable">,
    registry: ModelRegistry,
    logger: Logger,
    localMetrics: () => Registry,
  ): Promise<LoopHub> {
    const hub = new LoopHub(count, settings, registry, logger, localMetrics);
    try {
      await Promise.all(hub.loops.map((loop) => loop.started));
    } catch (e) {
      await hub.close();
      throw e;
    }
    runningHubs.add(hub);
    return hub;
  }

  /** Loops serving connections, this one included. */
  get size(): number {
    return 1 + this.loops.filter((l) => l.alive && l.ready).length;
  }

  /** Open REST connections on every loop. */
  get connections(): number {
    return this.restOpen;
  }

  /**
   * A connection accepted (paused) by the main loop on the REST or gRPC port. A REST one is refused when
   * over `limits.maxConnections` in all or `limits.maxPerClient` from its address (the limit is returned);
   * else it is served here (`serveHere`) or handed to the loop with the fewest connections.
   */
  dispatch(
    socket: Socket,
    kind: ConnectionKind,
    limits: { maxConnections: number; maxPerClient: number },
    serveHere: (s: Socket) => void,
  ): "served" | "total" | "client" {
    const rest = kind === "rest";
    const address = socket.remoteAddress ?? "";
    if (rest) {
      const open = this.perAddress.get(address) ?? 0;
      const refused =
        this.restOpen >= limits.maxConnections ? "total" : open >= limits.maxPerClient ? "client" : null;
      if (refused !== null) {
        socket.destroy();
        return refused;
      }
      this.perAddress.set(address, open + 1);
      this.restOpen++;
    }
    // The fewest connections; ties in turn (one client connecting again and again is spread too).
    let best = -1;
    let fewest = Infinity;
    for (let k = 0; k <= this.loops.length; k++) {
      const i = (this.turn + k) % (this.loops.length + 1);
      const loop = this.loops[i - 1];
      const count = i === 0 ? this.localConnections : loop.alive && loop.ready ? loop.connections : Infinity;
      if (count < fewest) [best, fewest] = [i, count];
    }
    this.turn = (best + 1) % (this.loops.length + 1);
    const target = best <= 0 ? null : this.loops[best - 1];
    const fd = (socket as Socket & { _handle?: { fd?: number } })._handle?.fd;
    if (target === null || typeof fd !== "number" || fd < 0) {
      this.localConnections++;
      socket.once("close", () => {
        this.localConnections--;
        if (rest) this.closed(address);
      });
      serveHere(socket);
      return "served";
    }
    // The loop gets its own descriptor; closing this one leaves the connection open.
    const own = duplicateDescriptor(fd);
    socket.destroy();
    target.connections++;
    if (rest) target.addresses.set(address, (target.addresses.get(address) ?? 0) + 1);
    this.post(target, { type: "socket", fd: own, kind });
    return "served";
  }

  /** Every loop's metrics added up (counters and histograms summed; gauges are this loop's alone). */
  async metricsText(): Promise<string> {
    const id = this.nextId++;
    const live = this.loops.filter((l) => l.alive && l.ready);
    const jsons: unknown[] = [await this.localMetrics().getMetricsAsJSON()];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, METRICS_WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (live.length === 0) return done();
      this.metricsWaits.set(id, { pending: live.length, jsons, done });
      for (const loop of live) this.post(loop, { type: "metrics", id });
    });
    this.metricsWaits.delete(id);
    return AggregatorRegistry.aggregate(jsons as object[]).metrics();
  }

  /** Drains every other loop as `RunningServer.close` drains this one. */
  async drain(options: { drainTimeoutMs?: number; idleGraceMs?: number }): Promise<void> {
    await Promise.all(
      this.loops
        .filter((l) => l.alive)
        .map(
          (loop) =>
            new Promise<void>((resolve) => {
              loop.drained = resolve;
              this.post(loop, { type: "drain", ...options });
            }),
        ),
    );
  }

  /** Test hook: stops loop `index` (1, 2, ...) as a failure would; it is started again. */
  async stopLoop(index: number): Promise<void> {
    await this.loops[index - 1].worker.terminate();
  }

  /** Stops the other loops and lets go of every version shared with them. */
  async close(): Promise<void> {
    runningHubs.delete(this);
    this.closing = true;
    clearInterval(this.stateTimer);
    this.unsubscribe();
    await Promise.all(this.loops.map((l) => l.worker.terminate()));
    for (const loop of this.loops) this.lost(loop);
    for (const entry of this.shared.values()) entry.lease.release();
    this.shared.clear();
  }

  private onEvent(event: ModelEvent): void {
    if (event.type === "load-done") this.share(event.model, event.version);
    else if (event.type === "unload-start") this.retire(event.model, event.version);
    this.publishState();
  }

  /** Leases a loaded version for the other loops and sends it to them. */
  private share(model: string, version: number): void {
    const key = versionKey(model, version);
    if (this.shared.has(key)) return;
    let lease: ModelLease;
    try {
      lease = this.registry.acquire(model, { version });
    } catch {
      return; // already gone (an event replayed from the past)
    }
    try {
      const m = lease.model;
      const replica: VersionReplica = {
        model,
        version,
        embedding: describeReplica(m.embedding),
        features: m.features,
        checkpoint: m.checkpoint,
        tableBytes: m.tableBytes,
      };
      const entry: Shared = { lease, replica, holders: new Set(), retired: false };
      this.shared.set(key, entry);
      for (const loop of this.loops) {
        if (!loop.alive) continue;
        entry.holders.add(loop);
        this.post(loop, { type: "version", replica });
      }
    } catch (error) {
      lease.release();
      this.logger.log("error", "loop-share-failed", { model, version, error: String(error) });
    }
  }

  private retire(model: string, version: number): void {
    const key = versionKey(model, version);
    const entry = this.shared.get(key);
    if (entry === undefined || entry.retired) return;
    entry.retired = true;
    for (const loop of entry.holders) this.post(loop, { type: "retire", model, version });
    this.letGo(key, entry);
  }

  /** Releases the main loop's lease once no loop holds the version. */
  private letGo(key: string, entry: Shared): void {
    if (!entry.retired || entry.holders.size > 0) return;
    this.shared.delete(key);
    entry.lease.release();
  }

  private onMessage(loop: Loop, m: FromLoop): void {
    switch (m.type) {
      case "drained":
        loop.drained?.();
        loop.drained = null;
        return;
      case "retired": {
        const key = versionKey(m.model, m.version);
        const entry = this.shared.get(key);
        if (entry === undefined) return;
        entry.holders.delete(loop);
        this.letGo(key, entry);
        return;
      }
      case "closed": {
        if (!loop.alive) return;
        loop.connections--;
        if (m.kind !== "rest") return;
        const n = loop.addresses.get(m.address) ?? 0;
        if (n === 0) return;
        if (n === 1) loop.addresses.delete(m.address);
        else loop.addresses.set(m.address, n - 1);
        this.closed(m.address);
        return;
      }
      case "reconfigure":
        void Promise.resolve()
          .then(() => this.registry.reconfigure!(m.models))
          .then(
            () => this.post(loop, { type: "reconfigured", id: m.id, error: null }),
            (error: unknown) =>
              this.post(loop, {
                type: "reconfigured",
                id: m.id,
                error: {
                  code: error instanceof TpuEmbeddingError ? error.code : "INTERNAL",
                  message: error instanceof Error ? error.message : String(error),
                },
              }),
          );
        return;
      case "log":
        this.logger.log(m.level, m.event, m.fields);
        return;
      case "metrics": {
        const wait = this.metricsWaits.get(m.id);
        if (wait === undefined) return;
        wait.jsons.push(m.json);
        if (--wait.pending === 0) wait.done();
        return;
      }
      case "metrics-request":
        void this.metricsText().then(
          (text) =>
            this.post(loop, {
              type: "metrics-text",
              id: m.id,
              text,
              contentType: this.localMetrics().contentType,
            }),
          (error) =>
            this.post(loop, {
              type: "metrics-text",
              id: m.id,
              text: `# ${String(error)}\n`,
              contentType: "text/plain",
            }),
        );
        return;
      default:
        return;
    }
  }

  /** A loop that exited: it holds nothing any more. */
  private lost(loop: Loop): void {
    if (!loop.alive) return;
    loop.alive = false;
    loop.connections = 0;
    loop.drained?.();
    loop.drained = null;
    for (const [address, n] of loop.addresses) for (let i = 0; i < n; i++) this.closed(address);
    loop.addresses.clear();
    for (const [key, entry] of this.shared) if (entry.holders.delete(loop)) this.letGo(key, entry);
  }

  /** A REST connection from `address` closed, on whichever loop. */
  private closed(address: string): void {
    this.restOpen--;
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }

  private models(): ModelState[] {
    return this.registry.modelNames().map((name) => ({
      name,
      status: this.registry.status(name),
      labels: [...this.registry.labels(name)],
    }));
  }

  private publishState(): void {
    const models = this.models();
    const text = JSON.stringify(models);
    if (text === this.state) return;
    this.state = text;
    for (const loop of this.loops) if (loop.alive) this.post(loop, { type: "state", models });
  }

  private post(loop: Loop, message: ToLoop): void {
    if (loop.alive) loop.worker.postMessage(message);
  }
}

function versionKey(model: string, version: number): string {
  return `${model}\u0000${version}`;
}
