import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

/**
 * The server's connections: a per-client (remote address) limit enforced as they are accepted, the
 * requests outstanding on each, and the graceful drain at shutdown: no new connections, every request
 * that reaches an open connection answered (the last one on each connection with `Connection: close`),
 * idle keep-alive connections closed only once they have been quiet for a grace period, so a client that
 * is just sending its next request on one is answered rather than reset.
 */

interface Tracked {
  readonly address: string;
  /** Requests received and not yet answered (pipelined ones included). */
  pending: number;
  /** Requests received so far (the latest one's sequence number). */
  received: number;
  /** When it last became idle (no request outstanding), or last received bytes while idle. */
  quietSince: number;
  bytesRead: number;
}

/** How long a connection with nothing outstanding must stay quiet during a drain before it is closed. */
export const DRAIN_IDLE_GRACE_MS = 500;
const DRAIN_CHECK_MS = 25;

export class Connections {
  private readonly tracked = new Map<Socket, Tracked>();
  private readonly perAddress = new Map<string, number>();
  /** Each response's request number on its connection. */
  private readonly sequence = new WeakMap<ServerResponse, number>();
  private draining = false;
  /** Connections refused since start because their client had too many open (for logs and tests). */
  refused = 0;

  constructor(
    private readonly server: Server,
    private readonly maxPerClient: number,
    private readonly onRefused: (address: string) => void = () => {},
  ) {
    // Prepended: a connection over the limit is dropped before the HTTP parser ever reads from it.
    server.prependListener("connection", (socket: Socket) => this.accept(socket));
  }

  /** Open connections. */
  get size(): number {
    return this.tracked.size;
  }

  private accept(socket: Socket): void {
    const address = socket.remoteAddress ?? "";
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.maxPerClient || this.draining) {
      this.refused++;
      socket.destroy();
      if (!this.draining) this.onRefused(address);
      return;
    }
    this.perAddress.set(address, open + 1);
    const entry: Tracked = { address, pending: 0, received: 0, quietSince: performance.now(), bytesRead: 0 };
    this.tracked.set(socket, entry);
    socket.once("close", () => {
      this.tracked.delete(socket);
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
  }

  /** A request arrived on its connection: tracked until `res` closes (sent, or the connection lost). */
  begin(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const entry = this.tracked.get(socket);
    if (entry === undefined) return;
    entry.pending++;
    this.sequence.set(res, ++entry.received);
    res.once("close", () => {
      entry.pending--;
      if (entry.pending === 0) {
        entry.quietSince = performance.now();
        entry.bytesRead = socket.bytesRead;
      }
    });
  }

  /**
   * Whether `res` must close its connection: during a drain, the response to the latest request received
   * on it (responses go out in request order, so the earlier pipelined ones are still answered).
   */
  closesAfter(res: ServerResponse): boolean {
    if (!this.draining) return false;
    // `res.req.socket`: a pipelined response has no socket of its own until the ones before it are sent.
    const entry = this.tracked.get(res.req.socket as Socket);
    return entry === undefined || this.sequence.get(res) === entry.received;
  }

  /**
   * Stops accepting (without closing idle connections at once, as `http.Server#close` does) and resolves
   * once every connection has closed or `timeoutMs` has passed (then the rest are destroyed).
   */
  drain(timeoutMs: number, idleGraceMs = DRAIN_IDLE_GRACE_MS): Promise<void> {
    this.draining = true;
    // 'close': not listening and no connection left.
    const closed = new Promise<void>((resolve) => this.server.once("close", () => resolve()));
    // net.Server's close: stop listening only. http.Server's would also close every idle connection
    // at once, including those a client is writing its next request to.
    NetServer.prototype.close.call(this.server);
    const deadline = performance.now() + timeoutMs;
    return new Promise<void>((resolve) => {
      const check = () => {
        const now = performance.now();
        for (const [socket, entry] of this.tracked) {
          if (now >= deadline) {
            socket.destroy();
            continue;
          }
          if (entry.pending > 0) continue;
          // Bytes arrived while idle: a request is on its way; wait for it (it is answered, then closed).
          if (socket.bytesRead !== entry.bytesRead) {
            entry.bytesRead = socket.bytesRead;
            entry.quietSince = now;
          } else if (now - entry.quietSince >= idleGraceMs) {
            socket.destroy();
          }
        }
        if (this.tracked.size === 0) {
          void closed.then(() => {
            // http.Server#close now only stops its connection-checking timer (nothing is left to close).
            this.server.close();
            resolve();
          });
          return;
        }
        setTimeout(check, DRAIN_CHECK_MS);
      };
      check();
    });
  }
}

/**
 * The default limit on open connections: the process's file-descriptor limit (Linux: the soft "Max open
 * files" of /proc/self/limits) less a reserve for everything else the server opens (checkpoint files,
 * worker threads, the event loop's own descriptors): 1/8 of it, at least 64. 10,000 where unknown.
 */
export function defaultMaxConnections(): number {
  const fds = openFileLimit();
  if (fds === undefined) return 10_000;
  return Math.max(16, fds - Math.max(64, Math.floor(fds / 8)));
}

/** The default per-client limit: a quarter of `maxConnections`, at most 256. */
export function defaultMaxConnectionsPerClient(maxConnections: number): number {
  return Math.max(1, Math.min(256, Math.floor(maxConnections / 4)));
}

function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s+/)[3];
    const n = Number(soft);
    return soft !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
