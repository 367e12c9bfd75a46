import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { http1Load, type LoadRequest } from "../../bench/http1-load.js";

/** A server whose answers are `size` bytes of 0xff (not UTF-8), status from the path; it records bodies. */
async function withServer(run: (url: string, seen: string[]) => Promise<void>): Promise<void> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push(
        `${req.method} ${req.url} ${req.headers["content-type"]} ${Buffer.concat(chunks).toString()}`,
      );
      const [, status, size] = (req.url ?? "").split("/");
      const body = Buffer.alloc(Number(size), 0xff);
      res.writeHead(Number(status), {
        "Content-Type": "application/octet-stream",
        "Content-Length": body.length,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test("http1Load cycles the requests on every connection, frames answers by Content-Length, counts non-2xx", async () => {
  await withServer(async (url, seen) => {
    const requests: LoadRequest[] = [
      { method: "POST" as const, path: "/200/3", headers: { "content-type": "a/b" }, body: "one" },
      // 300 KB: the answer arrives in many chunks
      {
        method: "POST" as const,
        path: "/200/300000",
        headers: { "content-type": "c/d" },
        body: Buffer.from("two"),
      },
      { method: "POST" as const, path: "/503/0", headers: {}, body: "" },
    ];
    const r = await http1Load(url, 2, 0.3, requests);
    assert.ok(r.requests >= 6, `${r.requests} answers`);
    assert.equal(r.errors, 0);
    assert.equal(r.latenciesMs.length, r.requests);
    for (let i = 1; i < r.latenciesMs.length; i++) assert.ok(r.latenciesMs[i - 1] <= r.latenciesMs[i]);
    // The server saw each request whole, in order per connection.
    assert.ok(seen.includes("POST /200/3 a/b one"));
    assert.ok(seen.includes("POST /200/300000 c/d two"));
    assert.ok(seen.includes("POST /503/0 undefined "));
    // About a third of the answers were 503s (each connection starts at its own place in the list).
    assert.ok(
      r.non2xx >= Math.floor(r.requests / 3) - 2 && r.non2xx <= Math.ceil(r.requests / 3) + 2,
      `${r.non2xx}`,
    );
    // Bytes: every counted answer's body and head (a body of 300,000 bytes for a third of them).
    assert.ok(r.bytes >= 300_000 * Math.floor(r.requests / 3), `${r.bytes}`);
    assert.ok(r.seconds > 0.25 && r.seconds < 1, `${r.seconds}`);
  });
});
