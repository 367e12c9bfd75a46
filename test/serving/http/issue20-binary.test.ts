import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BINARY_CONTENT_TYPE, InvalidArgumentError, type RunningServer } from "../../../src/index.js";
import type { FeatureInput } from "../../../src/serving/batching/feature-input.js";
import { decodeBinaryRequest, encodeBinaryRequest } from "../../../src/serving/binary/request-codec.js";
import { decodeBinaryResponse, encodeBinaryResponse } from "../../../src/serving/binary/response-codec.js";
import { seededRandom } from "../../support/seeded-random.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call } from "../support/http.js";

/**
 * Issue 20, item 6: the binary format refuses what it reserves (header flags and reserved fields, the
 * feature header's reserved u16, rank of a ragged feature, rows of a dense/sparse one, padding bytes) and
 * never answers a truncated or misaligned body with a 500.
 */
const inputs = new Map<string, FeatureInput>([
  [
    "watched",
    { kind: "ragged", ids: Int32Array.of(3, 14, 15), rowSplits: Int32Array.of(0, 2, 3), weights: null },
  ],
  ["friends", { kind: "dense", ids: Int32Array.of(5), shape: [] }],
  [
    "user/topics",
    {
      kind: "sparse",
      ids: BigInt64Array.of(1n, 2n, 3n),
      indices: BigInt64Array.of(0n, 0n, 0n, 1n, 1n, 0n),
      denseShape: [2, 3],
      weights: Float32Array.of(1, 0.5, 2),
    },
  ],
]);
const valid = encodeBinaryRequest(inputs);

/** Offsets of the reserved / must-be-zero bytes of `valid`, found by walking its layout. */
function reservedOffsets(): { at: number; what: string }[] {
  const out: { at: number; what: string }[] = [];
  for (let i = 6; i < 8; i++) out.push({ at: i, what: "header flags" });
  for (let i = 12; i < 16; i++) out.push({ at: i, what: "header reserved" });
  const view = new DataView(valid.buffer, valid.byteOffset, valid.byteLength);
  let at = 16;
  const align = (n: number) => (n + 7) & ~7;
  for (const [name, input] of inputs) {
    const nameBytes = view.getUint16(at, true);
    assert.equal(nameBytes, name.length);
    out.push({ at: at + 6, what: `${name} reserved u16` }, { at: at + 7, what: `${name} reserved u16` });
    if (input.kind === "ragged") out.push({ at: at + 5, what: `${name} rank` });
    else out.push({ at: at + 8, what: `${name} rows` });
    at += 16;
    for (let i = nameBytes; i < align(nameBytes); i++) out.push({ at: at + i, what: `${name} name padding` });
    at += align(nameBytes);
    if (input.kind === "ragged") {
      const bytes = input.rowSplits.byteLength;
      for (let i = bytes; i < align(bytes); i++) out.push({ at: at + i, what: `${name} splits padding` });
      at += align(bytes);
    } else {
      const rank = input.kind === "dense" ? input.shape.length : input.denseShape.length;
      for (let i = 4 * rank; i < align(4 * rank); i++)
        out.push({ at: at + i, what: `${name} shape padding` });
      at += align(4 * rank);
    }
    if (input.kind === "sparse") at += input.indices.byteLength;
    const idBytes = input.ids.byteLength;
    for (let i = idBytes; i < align(idBytes); i++) out.push({ at: at + i, what: `${name} ids padding` });
    at += align(idBytes);
    if (input.kind !== "dense" && input.weights !== null) {
      const wBytes = input.weights.byteLength;
      for (let i = wBytes; i < align(wBytes); i++) out.push({ at: at + i, what: `${name} weights padding` });
      at += align(wBytes);
    }
  }
  assert.equal(at, valid.byteLength);
  return out;
}

test("decoding: every reserved byte set to non-zero is refused with InvalidArgumentError", () => {
  assert.equal(decodeBinaryRequest(valid).size, 3);
  const offsets = reservedOffsets();
  assert.ok(offsets.length > 30, `${offsets.length} reserved bytes`);
  for (const { at, what } of offsets) {
    const body = valid.slice();
    body[at] = 1;
    assert.throws(() => decodeBinaryRequest(body), InvalidArgumentError, `${what} (byte ${at})`);
  }
});

test("decoding: every truncation of a valid body is an InvalidArgumentError, never a RangeError", () => {
  for (let n = 0; n < valid.byteLength; n++) {
    assert.throws(() => decodeBinaryRequest(valid.subarray(0, n)), InvalidArgumentError, `${n} bytes`);
  }
  // Unaligned starts (a body that is not the start of its buffer) are copied, then decoded alike.
  const shifted = new Uint8Array(valid.byteLength + 3);
  shifted.set(valid, 3);
  assert.equal(decodeBinaryRequest(shifted.subarray(3)).size, 3);
});

test("responses: reserved fields are refused too", () => {
  const body = encodeBinaryResponse(new Map([["f", { shape: [2], data: Float32Array.of(1, 2) }]]));
  assert.deepEqual(Array.from(decodeBinaryResponse(body).get("f")!.data), [1, 2]);
  for (const at of [6, 12, 16 + 3, 16 + 4]) {
    const bad = body.slice();
    bad[at] = 9;
    assert.throws(() => decodeBinaryResponse(bad), InvalidArgumentError, `byte ${at}`);
  }
});

describe("over HTTP", () => {
  let server: RunningServer;
  let url: string;
  before(async () => {
    ({ server, url } = await serveTestModel(await buildTestModel(1, 3)));
  });
  after(() => server.close());

  test("reserved bytes and truncations → 400, never 500", async () => {
    assert.equal((await call(url, { body: valid, contentType: BINARY_CONTENT_TYPE })).status, 200);
    const bodies: Uint8Array[] = [];
    for (const { at } of reservedOffsets()) {
      const body = valid.slice();
      body[at] = 0x80;
      bodies.push(body);
    }
    // The truncations that used to reach a misaligned typed-array view: cut inside a section's padding.
    for (let n = 1; n < valid.byteLength; n += 3) bodies.push(valid.slice(0, n));
    for (const body of bodies) {
      const reply = await call(url, { body, contentType: BINARY_CONTENT_TYPE });
      assert.equal(reply.status, 400, `${body.byteLength} bytes: ${reply.status} ${reply.text}`);
      assert.match((reply.json() as { error: string }).error, /^Binary request/);
    }
  });

  test("seeded mini-fuzz: 300 mutated bodies (bytes flipped, cut, spliced) never get a 5xx", async () => {
    const { int } = seededRandom(2020);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      let body = valid.slice();
      const kind = i % 3;
      if (kind === 0) {
        for (let k = 0; k <= int(4); k++) body[int(body.length)] = int(256);
      } else if (kind === 1) {
        body = body.slice(0, int(body.length));
        if (body.length > 0) body[int(body.length)] ^= 1 << int(8);
      } else {
        const cut = int(body.length);
        const extra = Uint8Array.from({ length: int(24) }, () => int(256));
        const spliced = new Uint8Array(body.length + extra.length);
        spliced.set(body.subarray(0, cut));
        spliced.set(extra, cut);
        spliced.set(body.subarray(cut), cut + extra.length);
        body = spliced;
      }
      const reply = await call(url, { body, contentType: BINARY_CONTENT_TYPE });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      assert.ok(reply.status < 500, `body ${i}: ${reply.status} ${reply.text}`);
    }
    assert.ok((statuses.get(400) ?? 0) > 200, JSON.stringify([...statuses]));
  });
});
