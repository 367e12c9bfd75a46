import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-errors.js";

export interface BodyLimits {
  /** Largest body; beyond → 413. */
  readonly maxBodyBytes: number;
  /** Time for the body to arrive from the moment its reading starts… */
  readonly bodyTimeoutMs: number;
  /** …plus one second for every this many bytes received (Apache's mod_reqtimeout `MinRate`). */
  readonly minBodyBytesPerSecond: number;
}

/**
 * Reads a request body into one 8-byte-aligned buffer, refusing (413) as soon as it is known to exceed
 * `maxBodyBytes`: from Content-Length before reading anything, or while streaming. A body that arrives
 * too slowly, slower than `bodyTimeoutMs` plus a second per `minBodyBytesPerSecond` bytes received, is
 * refused with 408 (the reply closes the connection), so slow senders cannot hold a connection for long.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  const maxBytes = limits.maxBodyBytes;
  const tooLarge = (n: number | string) =>
    new HttpError(
      413,
      "RESOURCE_EXHAUSTED",
      `Request body of ${n} bytes exceeds the limit of ${maxBytes} bytes (--max-body-bytes).`,
    );
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let failed = false;
    const started = performance.now();
    const deadline = () => started + limits.bodyTimeoutMs + (1000 * total) / limits.minBodyBytesPerSecond;
    let timer: NodeJS.Timeout | undefined;
    const stop = (error: HttpError) => {
      failed = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.resume(); // discard the rest; the reply closes the connection
      reject(error);
    };
    const onTimer = () => {
      const left = deadline() - performance.now();
      if (left > 0) {
        timer = setTimeout(onTimer, left);
        return;
      }
      const ms = Math.round(performance.now() - started);
      stop(
        new HttpError(
          408,
          "DEADLINE_EXCEEDED",
          `The request body arrived too slowly: ${total}${declared === undefined ? "" : ` of ${declared}`} ` +
            `bytes in ${ms} ms (--body-timeout-ms ${limits.bodyTimeoutMs} plus 1 s per ` +
            `--min-body-bytes-per-second ${limits.minBodyBytesPerSecond} bytes).`,
        ),
      );
    };
    timer = setTimeout(onTimer, limits.bodyTimeoutMs);
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        stop(tooLarge(`more than ${maxBytes}`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    // A client that hangs up mid-body ("aborted"): TF Serving's CANCELLED (499), not a server error.
    const cancelled = () =>
      new HttpError(499, "CANCELLED", "The client closed the connection before sending the whole body.");
    req.once("error", (e) => {
      clearTimeout(timer);
      if (!failed) reject(req.complete ? e : cancelled());
    });
    req.once("close", () => {
      clearTimeout(timer);
      if (!req.complete) reject(cancelled());
    });
    req.once("end", () => {
      clearTimeout(timer);
      if (failed) return;
      const body = new Uint8Array(total); // fresh buffer: offset 0, so typed views are aligned
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      resolve(body);
    });
  });
}
