import assert from "node:assert/strict";
import { request } from "node:http";
import type { ServableModel } from "../../../src/index.js";
import type { PredictInputs, PredictOutputs } from "../../../src/serving/batching/feature-input.js";
import { directLookup } from "../support/direct-lookup.js";

/**
 * Shared pieces of the seeded fuzzers (issue 14, item 7): their size and seed (FUZZ_SCALE multiplies the
 * counts, FUZZ_SEED changes the inputs: `FUZZ_SCALE=20 FUZZ_SEED=7 npm test` for a long run), a plain
 * HTTP client, and the checks every answer must pass.
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 14);
export const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** A seeded generator with the helpers mutations need. */
export function fuzzRandom(seed: number) {
  let state = seed >>> 0 || 1;
  const rand = (): number => {
    // xorshift32: fast, full period, good enough for picking mutations
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  return { rand, int, pick };
}

export type Random = ReturnType<typeof fuzzRandom>;

export interface Reply {
  status: number;
  bytes: Uint8Array;
  text: string;
}

export function post(url: string, body: Uint8Array | string, contentType: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const buffer = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            bytes: new Uint8Array(buffer),
            text: buffer.toString("utf8"),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Statuses a predict may answer with: 200, 4xx for the request's own faults or the budget's 429. */
export const ALLOWED_STATUSES = new Set([200, 400, 413, 429]);

export interface FuzzTally {
  sent: number;
  ok: number;
  byStatus: Map<number, number>;
}

export function newTally(): FuzzTally {
  return { sent: 0, ok: 0, byStatus: new Map() };
}

/**
 * Checks one answer: an allowed status with a JSON `{"error"}` body of bounded length for errors; for a
 * 200, the same bytes as the library's direct lookup of the same decoded inputs, encoded by `encode`.
 */
export function checkReply(
  tally: FuzzTally,
  reply: Reply,
  what: string,
  model: ServableModel,
  decode: () => PredictInputs,
  encode: (outputs: PredictOutputs) => Uint8Array | string,
): void {
  tally.sent++;
  tally.byStatus.set(reply.status, (tally.byStatus.get(reply.status) ?? 0) + 1);
  assert.ok(ALLOWED_STATUSES.has(reply.status), `${what} → ${reply.status} ${reply.text.slice(0, 300)}`);
  if (reply.status !== 200) {
    const error = (JSON.parse(reply.text) as { error?: unknown }).error;
    assert.equal(typeof error, "string", `${what}: error body ${reply.text.slice(0, 200)}`);
    assert.ok((error as string).length <= 2048, `${what}: a ${(error as string).length}-character error`);
    return;
  }
  tally.ok++;
  const expected = encode(directLookup(model, decode()));
  if (typeof expected === "string") assert.equal(reply.text, expected, `${what}: the answer differs`);
  else assert.ok(Buffer.from(expected).equals(Buffer.from(reply.bytes)), `${what}: the answer differs`);
}

export function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

export function describeTally(name: string, tally: FuzzTally, rss: [number, number]): string {
  const statuses = [...tally.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`);
  return (
    `# ${name}: ${tally.sent} requests (seed ${FUZZ_SEED}, scale ${FUZZ_SCALE}), ${statuses.join(", ")}; ` +
    `${tally.ok} answers equal the direct lookup; RSS ${rss[0].toFixed(0)} → ${rss[1].toFixed(0)} MiB`
  );
}
