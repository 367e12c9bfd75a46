import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-errors.js";

/**
 * Reads a request body into one 8-byte-aligned buffer, refusing (413) as soon as it is known to exceed
 * `maxBytes`: from Content-Length before reading anything, or while streaming.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
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
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        failed = true;
        req.off("data", onData);
        req.resume(); // discard the rest; the reply closes the connection
        reject(tooLarge(`more than ${maxBytes}`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    // A client that hangs up mid-body ("aborted"): TF Serving's CANCELLED (499), not a server error.
    const cancelled = () =>
      new HttpError(499, "CANCELLED", "The client closed the connection before sending the whole body.");
    req.once("error", (e) => {
      if (!failed) reject(req.complete ? e : cancelled());
    });
    req.once("close", () => {
      if (!req.complete) reject(cancelled());
    });
    req.once("end", () => {
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
