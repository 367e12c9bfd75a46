import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { Agent, request } from "node:http";
import { DenseTensor, FileModelRegistry, InvalidArgumentError, startServer } from "../../../src/index.js";
import { connect as grpcClients, int32Tensor, readFloat, unary } from "../grpc/support.js";
import { runningHubs } from "../../../src/serving/loops/loop-hub.js";
import { canHandOffConnections } from "../../../src/serving/loops/socket-hand-off.js";
import { buildTestModel, serveTestModel, TestRegistry } from "../support/test-registry.js";
import { call } from "../support/http.js";
import { captureLogger, cellValue, tempDir, USER_DIM, writeVersion } from "../model/helpers.js";

const skip = !canHandOffConnections() && "needs the native addon (connections are handed over by descriptor)";

/** POSTs `body` on a keep-alive agent; the status and text. */
function post(url: string, agent: Agent, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function bodyOf(i: number): string {
  return JSON.stringify({
    inputs: {
      watched: [[i % 1000, (7 * i) % 1000]],
      friends: [[i % 100]],
      favorited: [[1, 2]],
      "user/topics": [[i % 50]],
    },
  });
}

test(
  "two loops: every connection's answers are the one-loop server's bytes, and both loops serve",
  { skip },
  async () => {
    const model = await buildTestModel(1, 5);
    const one = await serveTestModel(model);
    const { logger, lines } = captureLogger();
    const two = await serveTestModel(model, { loops: 2, logger });
    // Eight connections, eight requests on each (an agent of one socket per connection).
    const agents = Array.from({ length: 8 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      assert.equal(two.server.loops, 2);
      assert.equal(one.server.loops, 1);
      const bodies = Array.from({ length: 64 }, (_, i) => bodyOf(i));
      const want = await Promise.all(bodies.map((b, i) => post(one.url, agents[i % 8], b)));
      const got = await Promise.all(bodies.map((b, i) => post(two.url, agents[i % 8], b)));
      assert.ok(want.every((r) => r.status === 200));
      assert.deepEqual(got, want);
      assert.equal(two.server.connections, 8);
      // Request log lines from the worker loop carry its number; the main loop's carry none. A loop's lines
      // come by message, just after its answers.
      const predicts = () =>
        lines.filter((l) => l.event === "request" && l.fields.path === "/v1/models/emb:predict");
      for (let i = 0; i < 50 && predicts().length < 64; i++) await new Promise((r) => setTimeout(r, 10));
      const served = lines.filter((l) => l.event === "request" && l.fields.path === "/v1/models/emb:predict");
      const byLoop = new Map<unknown, number>();
      for (const l of served) byLoop.set(l.fields.loop, (byLoop.get(l.fields.loop) ?? 0) + 1);
      assert.equal(served.length, 64);
      // The connections are handed out 4 and 4: half the requests are the worker loop's.
      assert.equal(byLoop.get(1), 32);
      // The scrape adds every loop's counters: 64 predicts on this server, whichever loop answered.
      const metrics = await call(`${two.server.url}/monitoring/prometheus/metrics`);
      assert.match(
        metrics.text,
        /tpu_embedding_requests_total\{model="emb",api="predict",status="200"\} 64\n/,
      );
      assert.match(metrics.text, /tpu_embedding_model_versions\{model="emb",state="AVAILABLE"\} 1\n/);
    } finally {
      for (const a of agents) a.destroy();
      await two.server.close({ drainTimeoutMs: 2000 });
      await one.server.close({ drainTimeoutMs: 2000 });
    }
    // Every loop let go of its leases.
    assert.equal(two.registry.leases(1), 0);
  },
);

test("two loops: the per-client connection limit holds across loops", { skip }, async () => {
  const model = await buildTestModel(1, 5);
  const { server } = await serveTestModel(model, { loops: 2, limits: { maxConnectionsPerClient: 3 } });
  const sockets = Array.from({ length: 5 }, () => connect(server.port, "127.0.0.1"));
  try {
    const outcomes = await Promise.all(
      sockets.map(
        (s) =>
          new Promise<string>((resolve) => {
            let text = "";
            s.on("data", (c) => (text += c.toString()));
            s.on("close", () => resolve(text.startsWith("HTTP/1.1 200") ? "answered" : "closed"));
            s.on("error", () => {});
            // Every connection is open (or refused) before any asks: a quick answer would free its slot.
            setTimeout(
              () => s.write("GET /v1/models/emb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              300,
            );
          }),
      ),
    );
    assert.deepEqual(outcomes.sort(), ["answered", "answered", "answered", "closed", "closed"]);
  } finally {
    for (const s of sockets) s.destroy();
    await server.close({ drainTimeoutMs: 1000 });
  }
});

test(
  "two loops: a new version reaches every loop, and the old one is unloaded once every loop let go",
  { skip },
  async () => {
    const base = tempDir("tpu-embedding-loops-");
    await writeVersion(base, 1);
    const registry = await FileModelRegistry.open({
      models: [{ name: "m", basePath: base }],
      pollIntervalSeconds: 0,
    });
    const server = await startServer({ registry, port: 0, loops: 2 });
    const agent = new Agent({ keepAlive: true, maxSockets: 6 });
    const url = `${server.url}/v1/models/m:predict`;
    // user/friends [[1, 3]] sums two rows: version v's cells tell the versions apart.
    const friends = (v: number) =>
      Array.from({ length: USER_DIM }, (_, k) =>
        Math.fround(cellValue(v, "user", USER_DIM + k) + cellValue(v, "user", 3 * USER_DIM + k)),
      );
    const versionsSeen = async (): Promise<Set<number>> => {
      const replies = await Promise.all(
        Array.from({ length: 24 }, () =>
          post(url, agent, JSON.stringify({ inputs: { "user/friends": [[1, 3]] } })),
        ),
      );
      const seen = new Set<number>();
      for (const r of replies) {
        assert.equal(r.status, 200, r.text);
        const got = (JSON.parse(r.text) as { outputs: Record<string, number[][]> }).outputs[
          "user/friends"
        ][0];
        const v = [1, 2].find((version) => got.join() === friends(version).join());
        assert.ok(v !== undefined, `an answer of neither version: ${got}`);
        seen.add(v);
      }
      return seen;
    };
    try {
      assert.deepEqual([...(await versionsSeen())], [1]);
      await writeVersion(base, 2);
      await registry.poll();
      // The other loop gets version 2 by message, just after this one: wait for it, then only 2 is served.
      let seen = await versionsSeen();
      for (let i = 0; i < 50 && seen.has(1); i++) seen = await versionsSeen();
      assert.deepEqual([...seen], [2]);
      for (let i = 0; i < 100 && registry.status("m", 1)[0].state !== "END"; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(registry.status("m", 1)[0].state, "END");
      const status = await call(`${server.url}/v1/models/m`);
      assert.deepEqual(
        (
          status.json() as { model_version_status: { version: string; state: string }[] }
        ).model_version_status.map((s) => [s.version, s.state]),
        [
          ["2", "AVAILABLE"],
          ["1", "END"],
        ],
      );
    } finally {
      agent.destroy();
      await server.close({ drainTimeoutMs: 2000 });
      await registry.close();
    }
  },
);

test(
  "two loops: a loop that fails is started again; the other serves meanwhile, and the new one gets the versions",
  { skip },
  async () => {
    const model = await buildTestModel(1, 5);
    const before = new Set(runningHubs);
    const { logger, lines } = captureLogger();
    const { server, url, registry } = await serveTestModel(model, { loops: 2, logger });
    const hub = [...runningHubs].find((h) => !before.has(h))!;
    const fresh = () => new Agent({ keepAlive: false });
    const want = await post(url, fresh(), bodyOf(3));
    assert.equal(want.status, 200);
    try {
      await hub.stopLoop(1);
      // Loop 1 is gone: every new connection is served by this loop until it is back.
      for (let i = 0; i < 4; i++) assert.deepEqual(await post(url, fresh(), bodyOf(3)), want);
      for (let i = 0; i < 100 && server.loops < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.loops, 2);
      assert.ok(lines.some((l) => l.event === "loop-exited" && l.fields.loop === 1));
      // The new loop 1 has version 1 and serves its share of new connections.
      const servedBy1 = () =>
        lines.filter((l) => l.event === "request" && l.fields.loop === 1 && l.fields.status === 200).length;
      const served = servedBy1();
      // Six connections at once: the new loop takes its share (those still open when the next arrives).
      const replies = await Promise.all(Array.from({ length: 6 }, () => post(url, fresh(), bodyOf(3))));
      for (const r of replies) assert.deepEqual(r, want);
      for (let i = 0; i < 50 && servedBy1() === served; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(servedBy1() > served, "the restarted loop served none");
    } finally {
      await server.close({ drainTimeoutMs: 2000 });
    }
    assert.equal(registry.leases(1), 0);
  },
);

test(
  "two loops serve gRPC too: answers over every connection are the lookup's, and a reload request from any loop reaches the registry",
  { skip },
  async () => {
    const model = await buildTestModel(1, 5);
    const registry = new TestRegistry("emb");
    registry.add(model);
    const reloads: string[][] = [];
    const reconfigurable = Object.assign(registry, {
      reconfigure: async (models: readonly { name: string }[]) => {
        if (models.some((m) => m.name === "bad")) throw new InvalidArgumentError("no model named bad here");
        reloads.push(models.map((m) => m.name));
      },
    });
    const server = await startServer({ registry: reconfigurable, port: 0, grpcPort: 0, loops: 2 });
    // Four channels, each its own connection (grpc-js would share one between clients otherwise).
    const clients = Array.from({ length: 4 }, () =>
      grpcClients(server.grpc!.url, { "grpc.use_local_subchannel_pool": 1 }),
    );
    try {
      const want = (
        model.embedding.embeddingLookup({
          friends: new DenseTensor(Int32Array.of(1, 2), [1, 2]),
        }) as unknown as {
          friends: { data: Float32Array };
        }
      ).friends.data;
      const request = { model_spec: { name: "emb" }, inputs: { friends: int32Tensor([1, 2], [1, 2]) } };
      const replies = await Promise.all(clients.map((c) => unary(c.prediction, "Predict", request)));
      for (const r of replies) {
        assert.equal(r.error, undefined, r.error?.details);
        assert.deepEqual(Array.from(readFloat(r.response.outputs.friends).data), Array.from(want));
      }
      assert.equal(server.loops, 2);
      const config = (name: string) => ({
        config: {
          model_config_list: { config: [{ name, base_path: "/models/x", model_platform: "tensorflow" }] },
        },
      });
      const reloaded = await Promise.all(
        clients.map((c) => unary(c.model, "HandleReloadConfigRequest", config("emb"))),
      );
      for (const r of reloaded) assert.equal(r.error, undefined, r.error?.details);
      assert.deepEqual(reloads, [["emb"], ["emb"], ["emb"], ["emb"]]);
      const refused = await Promise.all(
        clients.map((c) => unary(c.model, "HandleReloadConfigRequest", config("bad"))),
      );
      for (const r of refused) {
        assert.equal(r.error?.code, 3); // INVALID_ARGUMENT, from the main loop's registry whichever loop asked
        assert.match(r.error!.details, /no model named bad here/);
      }
      const metrics = await call(`${server.url}/monitoring/prometheus/metrics`);
      assert.match(
        metrics.text,
        /tpu_embedding_requests_total\{model="emb",api="grpc_predict",status="OK"\} 4\n/,
      );
    } finally {
      for (const c of clients) c.close();
      await server.close({ drainTimeoutMs: 2000 });
    }
  },
);

test("loops: checked, and refused for tables outside this process's memory", async () => {
  const registry = new TestRegistry("emb");
  await assert.rejects(startServer({ registry, port: 0, loops: 0 }), InvalidArgumentError);
  await assert.rejects(startServer({ registry, port: 0, loops: 1.5 }), InvalidArgumentError);
  const remote = Object.assign(new TestRegistry("emb"), { sharedMemoryTables: false });
  await assert.rejects(startServer({ registry: remote, port: 0, loops: 2 }), /Redis Cluster/);
});
