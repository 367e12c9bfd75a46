/**
 * A lean HTTP/1.1 load generator for bench:server: `connections` keep-alive sockets, each with one request
 * in flight, cycling through pre-encoded requests for `durationS`. Answers are framed by their
 * Content-Length and counted, never decoded.
 *
 * Why not autocannon (still available: `--client autocannon`): autocannon appends every response body to
 * a JavaScript string (`req.body += chunk`), which decodes it as UTF-8. That costs its process 16-19 µs per
 * 6.7 KB binary answer against 2.5 µs per 22 KB ASCII JSON one, and 1.5-2.4 ms per 426 KB binary answer
 * (Zen 4, bench/results/2026-12-07-lean-load-client.md). On a 2-core machine the load generator shares the
 * CPUs with the server, so that cost made the binary lines measure the client. Every HTTP/1 line, the
 * ceiling's included, uses the same generator.
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";

export interface LoadRequest {
  readonly method: "POST" | "GET";
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export interface LoadResult {
  /** Answers received within the run. */
  readonly requests: number;
  readonly seconds: number;
  /** Per-answer latencies, ms, sorted. */
  readonly latenciesMs: Float64Array;
  /** Bytes of answers (headers and bodies). */
  readonly bytes: number;
  readonly non2xx: number;
  readonly errors: number;
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** The wire bytes of a request: head and body in one buffer. */
function encode(url: URL, r: LoadRequest): Buffer {
  const body = typeof r.body === "string" ? Buffer.from(r.body) : r.body;
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n`;
  for (const [name, value] of Object.entries(r.headers)) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

/** One connection's reading state: the head being gathered, then the body's bytes still to come. */
class Connection {
  private head: Buffer = Buffer.alloc(0);
  private bodyLeft = -1; // -1: reading the head
  private sentAt = 0;
  private next = 0;

  constructor(
    private readonly socket: Socket,
    private readonly wire: readonly Buffer[],
    private readonly stats: Stats,
    private readonly running: () => boolean,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("error", () => {
      stats.errors++;
    });
  }

  send(): void {
    if (!this.running()) {
      this.socket.end();
      return;
    }
    this.sentAt = performance.now();
    this.socket.write(this.wire[this.next]);
    this.next = (this.next + 1) % this.wire.length;
  }

  private read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLeft < 0) {
        // Gathering the head (a few hundred bytes): joined only when a chunk splits it.
        const joined =
          this.head.length === 0 ? chunk.subarray(at) : Buffer.concat([this.head, chunk.subarray(at)]);
        const end = joined.indexOf(CRLF2);
        if (end < 0) {
          this.head = Buffer.from(joined);
          return;
        }
        const headText = joined.toString("latin1", 0, end);
        const status = Number(headText.slice(9, 12));
        const match = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
        if (match === null) {
          // Not framed as the servers measured here frame every answer: counted, and the socket dropped.
          this.stats.errors++;
          this.socket.destroy();
          return;
        }
        this.bodyLeft = Number(match[1]);
        this.stats.bytes += end + 4;
        if (status < 200 || status > 299) this.stats.non2xx++;
        at += end + 4 - this.head.length;
        this.head = Buffer.alloc(0);
      }
      const take = Math.min(this.bodyLeft, chunk.length - at);
      this.bodyLeft -= take;
      this.stats.bytes += take;
      at += take;
      if (this.bodyLeft === 0) {
        this.bodyLeft = -1;
        if (this.running()) this.stats.record(performance.now() - this.sentAt);
        this.send();
      }
    }
  }
}

class Stats {
  bytes = 0;
  non2xx = 0;
  errors = 0;
  count = 0;
  latencies = new Float64Array(1 << 16);

  record(ms: number): void {
    if (this.count === this.latencies.length) {
      const grown = new Float64Array(2 * this.count);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.count++] = ms;
  }
}

/** Runs the load and resolves once every socket has closed after `durationS`. */
export async function http1Load(
  url: string,
  connections: number,
  durationS: number,
  requests: readonly LoadRequest[],
): Promise<LoadResult> {
  const target = new URL(url);
  const wire = requests.map((r) => encode(target, r));
  const stats = new Stats();
  const start = performance.now();
  const end = start + durationS * 1000;
  const running = () => performance.now() < end;
  const closed: Promise<void>[] = [];
  const sockets: Socket[] = [];
  for (let c = 0; c < connections; c++) {
    const socket = connect(Number(target.port), target.hostname);
    sockets.push(socket);
    // Each connection starts at its own place in the list, as autocannon's clients each start at 0 but
    // drift apart; here the spread is there from the first request.
    const rotated = wire.map((_, i) => wire[(i + c) % wire.length]);
    const connection = new Connection(socket, rotated, stats, running);
    closed.push(
      new Promise((resolve) => {
        socket.once("close", () => resolve());
      }),
    );
    socket.once("connect", () => connection.send());
  }
  // A server that stops answering: its sockets are dropped 10 s after the run.
  const timer = setTimeout(
    () => {
      for (const socket of sockets) socket.destroy();
    },
    durationS * 1000 + 10_000,
  );
  await Promise.all(closed);
  clearTimeout(timer);
  const seconds = Math.min(performance.now(), end) / 1000 - start / 1000;
  const latenciesMs = stats.latencies.slice(0, stats.count).sort();
  return {
    requests: stats.count,
    seconds,
    latenciesMs,
    bytes: stats.bytes,
    non2xx: stats.non2xx,
    errors: stats.errors,
  };
}
