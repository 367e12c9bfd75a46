import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DenseTensor, RaggedTensor, type TPUEmbeddingForServing } from "../../src/index.js";
import { connectCluster, type BinaryCluster } from "../../src/redis/cluster-client.js";
import { leasesKey } from "../../src/redis/layout.js";
import { publishedVersions, publishVersion, readManifest } from "../../src/redis/publish.js";
import { keepNewest } from "../../src/redis/unpublish.js";
import { spawnCli, type Running } from "../cli/helpers.js";
import { tempDir } from "../serving/model/helpers.js";
import { writeEveryKindVersion } from "./fixtures.js";
import { startCluster, type TestCluster } from "./redis-cluster.js";

let cluster: TestCluster;
let client: BinaryCluster;
let server: Running;
const base = tempDir();
const embeddings = new Map<number, TPUEmbeddingForServing>();

const publish = (version: number, batchRows = 1024) =>
  publishVersion(client, {
    model: "ver",
    version,
    prefix: join(base, String(version), "ckpt-1"),
    featureConfigPath: join(base, String(version), "features.json"),
    batchRows,
  });

before(async () => {
  cluster = await startCluster({ masters: 3 });
  client = await connectCluster({ url: cluster.url });
  for (const v of [1, 2, 3]) embeddings.set(v, (await writeEveryKindVersion(base, v)).embedding);
  await publish(1);
  server = await spawnCli([
    "serve",
    "--model-name",
    "ver",
    "--redis",
    cluster.url,
    "--port",
    "0",
    "--no-grpc",
    "--poll-interval",
    "0.2",
    "--cache-bytes",
    "30000",
  ]);
});
after(async () => {
  server?.proc.kill("SIGKILL");
  await client?.close().catch(() => undefined);
  cluster?.stop();
});

// 16 examples: a bag of 6 ids (sum) and 3 dense ids each, every table row touched differently per version.
const SUM = Array.from({ length: 16 }, (_, b) =>
  Array.from({ length: 6 }, (_, j) => (b * 37 + j * 11) % 300),
);
const DENSE = Array.from({ length: 16 }, (_, b) => [(b * 7) % 300, (b * 13 + 5) % 300, (b * 29 + 1) % 300]);
const BODY = JSON.stringify({ instances: SUM.map((sum, b) => ({ sum, dense: DENSE[b] })) });

/** What version v answers, flattened in the JSON's order (per example: sum, then dense). */
function expected(v: number): Float32Array {
  const e = embeddings.get(v)!;
  const out = e.embeddingLookup({
    sum: RaggedTensor.fromRowSplits(
      Int32Array.from(SUM.flat()),
      Int32Array.from({ length: 17 }, (_, i) => i * 6),
    ),
    dense: new DenseTensor(Int32Array.from(DENSE.flat()), [16, 3]),
  }) as Record<string, DenseTensor<Float32Array>>;
  const flat: number[] = [];
  for (let b = 0; b < 16; b++) {
    flat.push(...out.sum.data.subarray(b * 8, b * 8 + 8));
    flat.push(...out.dense.data.subarray(b * 24, b * 24 + 24));
  }
  return Float32Array.from(flat);
}

function versionOf(answer: Float32Array, wants: Map<number, Float32Array>): number {
  for (const [v, want] of wants) {
    if (want.length === answer.length && want.every((x, i) => Object.is(x, answer[i]))) return v;
  }
  return -1;
}

test("versions: a newly published version is picked up, zero mixed-version answers under load, the old one released and removable", async () => {
  const wants = new Map([1, 2, 3].map((v) => [v, expected(v)]));
  const seen = new Map<number, number>();
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const res = await fetch(`${server.url}/v1/models/ver:predict`, { method: "POST", body: BODY });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const predictions = (JSON.parse(text) as { predictions: { sum: number[]; dense: number[][] }[] })
        .predictions;
      const answer = Float32Array.from(predictions.flatMap((p) => [...p.sum, ...p.dense.flat()]));
      const v = versionOf(answer, wants);
      assert.notEqual(v, -1, "an answer matching no single version (mixed rows)");
      seen.set(v, (seen.get(v) ?? 0) + 1);
    }
  };
  const load = Promise.all([worker(), worker(), worker(), worker()]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    await publish(2, 16); // small commands: a slow publish under load
    await waitFor(() => (seen.get(2) ?? 0) > 20, "version 2 served");
    await publish(3, 16);
    await waitFor(() => (seen.get(3) ?? 0) > 20, "version 3 served");
  } finally {
    stop = true;
    await load;
  }
  assert.ok((seen.get(1) ?? 0) > 0, `answers by version: ${JSON.stringify([...seen])}`);

  // Once version 3 serves every request, versions 1 and 2 lose their leases; --keep 1 deletes their rows.
  await waitFor(async () => {
    const leases = Object.keys(await client.hGetAll(leasesKey("ver")));
    return leases.length === 1 && leases[0].endsWith("/3");
  }, "only version 3 leased");
  const status = await (await fetch(`${server.url}/v1/models/ver`)).json();
  assert.deepEqual(status, {
    model_version_status: [
      { version: "3", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
    ],
  });
  const v1Keys = (await readManifest(client, "ver", 1))!.partitions;
  const swept = await keepNewest(client, "ver", 1);
  assert.deepEqual(swept.deleted, [1, 2]);
  assert.deepEqual(await publishedVersions(client, "ver"), [3]);
  for (const key of v1Keys) assert.equal(await client.exists(key), 0, key);
  const res = await fetch(`${server.url}/v1/models/ver:predict`, { method: "POST", body: BODY });
  assert.equal(res.status, 200);
});

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
