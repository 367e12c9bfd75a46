import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { activeKernelFamily, startServer, type RunningServer } from "../../../src/index.js";
import { setKernelChoice } from "../../../src/kernels/kernel-choice.js";
import { nativeIsa, nativeKernelsAvailable } from "../../../src/kernels/native-addon.js";
import { wasmKernelsAvailable } from "../../../src/kernels/wasm-kernels.js";
import { buildTestModel, TestRegistry } from "../support/test-registry.js";
import { call, postJson } from "../support/http.js";

describe("status, metadata, metrics and TF Serving's errors", () => {
  let server: RunningServer;
  let registry: TestRegistry;

  before(async () => {
    registry = new TestRegistry("emb");
    registry.add(await buildTestModel(1, 1));
    server = await startServer({ registry, port: 0 });
    // Events after the server started are counted in its metrics.
    registry.add(await buildTestModel(3, 3));
    registry.fail(4, "checkpoint ckpt-4 is truncated");
    registry.setLabel("stable", 1);
  });
  after(() => server.close());

  test("GET /v1/models/{name}: every version, newest first, version as a string", async () => {
    const reply = await call(`${server.url}/v1/models/emb`);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers["content-type"], "application/json");
    assert.deepEqual(reply.json(), {
      model_version_status: [
        {
          version: "4",
          state: "END",
          status: { error_code: "DATA_LOSS", error_message: "checkpoint ckpt-4 is truncated" },
        },
        { version: "3", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
        { version: "1", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
      ],
    });
  });

  test("versions/{v} and labels/{l} select one version", async () => {
    const byVersion = (await call(`${server.url}/v1/models/emb/versions/3`)).json() as {
      model_version_status: { version: string }[];
    };
    assert.deepEqual(
      byVersion.model_version_status.map((s) => s.version),
      ["3"],
    );
    const byLabel = (await call(`${server.url}/v1/models/emb/labels/stable`)).json() as {
      model_version_status: { version: string }[];
    };
    assert.deepEqual(
      byLabel.model_version_status.map((s) => s.version),
      ["1"],
    );
  });

  test("metadata: a serving_default signature with one input and output per feature", async () => {
    const reply = await call(`${server.url}/v1/models/emb/metadata`);
    assert.equal(reply.status, 200, reply.text);
    const json = reply.json() as {
      model_spec: unknown;
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: Record<string, unknown>;
              outputs: Record<string, unknown>;
              method_name: string;
            };
          };
        };
        tpu_embedding: { features: { name: string; dim: number }[] };
      };
    };
    assert.deepEqual(json.model_spec, { name: "emb", signature_name: "", version: "3" });
    const sig = json.metadata.signature_def.signature_def.serving_default;
    assert.equal(sig.method_name, "tensorflow/serving/predict");
    assert.deepEqual(Object.keys(sig.outputs).sort(), ["favorited", "friends", "user/topics", "watched"]);
    assert.deepEqual(sig.outputs.favorited, {
      dtype: "DT_FLOAT",
      tensor_shape: {
        dim: [
          { size: "-1", name: "" },
          { size: "3", name: "" },
          { size: "8", name: "" },
        ],
        unknown_rank: false,
      },
      name: "favorited_embedding:0",
    });
    assert.deepEqual(sig.inputs.watched, {
      dtype: "DT_INT64",
      tensor_shape: {
        dim: [
          { size: "-1", name: "" },
          { size: "-1", name: "" },
        ],
        unknown_rank: false,
      },
      name: "watched:0",
    });
    assert.ok("watched_weights" in sig.inputs);
    assert.deepEqual(json.metadata.tpu_embedding.features.find((f) => f.name === "friends")?.dim, 4);
    const pinned = (await call(`${server.url}/v1/models/emb/versions/1/metadata`)).json() as {
      model_spec: { version: string };
    };
    assert.equal(pinned.model_spec.version, "1");
  });

  test("errors: TF Serving's statuses and { error } bodies", async () => {
    const cases: [string, string | undefined, number, RegExp][] = [
      ["/v1/models", undefined, 400, /Missing model name in request/],
      ["/v1/models/nope", undefined, 404, /Servable not found.*nope/],
      ["/v1/models/emb/versions/7", undefined, 404, /Could not find any versions of model emb \(version 7\)/],
      ["/v1/models/emb/labels/canary", undefined, 400, /Unrecognized servable version label: canary/],
      ["/v1/models/emb/version/1", undefined, 400, /Malformed request: GET \/v1\/models\/emb\/version\/1/],
      ["/v1/models/emb:predict", undefined, 400, /Malformed request: GET/],
      ["/v1/models/emb/metadata", "{}", 400, /Malformed request: POST/],
      ["/v1/models/emb:classify", "{}", 501, /classify is not supported/],
      ["/v1/models/emb/versions/99:predict", '{"inputs":{"watched":[[1]]}}', 404, /Servable not found/],
      ["/v1/models/emb/versions/99999999999999999999:predict", "{}", 400, /Failed to convert version/],
      ["/elsewhere", undefined, 400, /Malformed request/],
    ];
    for (const [path, body, status, message] of cases) {
      const reply =
        body === undefined ? await call(server.url + path) : await call(server.url + path, { body });
      assert.equal(reply.status, status, `${path}: ${reply.text}`);
      assert.match((reply.json() as { error: string }).error, message, path);
    }
  });

  test("/monitoring/prometheus/metrics: requests, latency, ids, batches, model events, memory", async () => {
    await postJson(`${server.url}/v1/models/emb:predict`, {
      inputs: { watched: [[1, 2, 3]], friends: [[4]] },
    });
    await postJson(`${server.url}/v1/models/emb:predict`, { inputs: { watched: [["x"]] } });
    const reply = await call(`${server.url}/monitoring/prometheus/metrics`);
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers["content-type"]), /^text\/plain/);
    const text = reply.text;
    assert.match(text, /tpu_embedding_requests_total\{model="emb",api="predict",status="200"\} [1-9]/);
    assert.match(text, /tpu_embedding_requests_total\{model="emb",api="predict",status="400"\} [1-9]/);
    assert.match(
      text,
      /tpu_embedding_request_latency_seconds_bucket\{le="\+Inf",model="emb",api="predict",status="200"\}/,
    );
    assert.match(text, /tpu_embedding_ids_looked_up_total\{model="emb"\} [4-9]/);
    assert.match(text, /tpu_embedding_batch_examples_count\{model="emb"\} [1-9]/);
    assert.match(text, /tpu_embedding_model_events_total\{model="emb",event="load-done"\} 1/);
    assert.match(text, /tpu_embedding_model_events_total\{model="emb",event="load-failed"\} 1/);
    assert.match(text, /tpu_embedding_model_versions\{model="emb",state="AVAILABLE"\} 2/);
    assert.match(text, /tpu_embedding_process_memory_bytes\{kind="rss"\} \d+/);
    assert.match(text, new RegExp(`tpu_embedding_kernel_family\\{family="${activeKernelFamily()}"\\} 1`));
    // Unknown model names from URLs are not label values (no unbounded series).
    assert.doesNotMatch(text, /model="nope"/);
    assert.match(text, /tpu_embedding_requests_total\{model="",api="status",status="404"\} 1/);
  });
});

test("a model with no version loaded yet answers predict with 503 UNAVAILABLE (retry), then serves", async () => {
  const registry = new TestRegistry("emb");
  const server = await startServer({ registry, port: 0 });
  try {
    const body = { instances: [{ a: [1] }] };
    const before = await postJson(`${server.url}/v1/models/emb:predict`, body);
    assert.equal(before.status, 503, before.text);
    assert.match((before.json() as { error: string }).error, /has no available version/);
    registry.add(await buildTestModel(1, 1));
    const statusAfter = await call(`${server.url}/v1/models/emb`);
    assert.equal(statusAfter.status, 200);
  } finally {
    await server.close();
  }
});

test("the kernel family in use: activeKernelFamily(), logged at server start", async () => {
  try {
    setKernelChoice("js");
    assert.equal(activeKernelFamily(), "js");
    setKernelChoice("wasm");
    assert.equal(activeKernelFamily(), wasmKernelsAvailable() ? "wasm" : "js");
    setKernelChoice("native");
    const expected = nativeKernelsAvailable() ? "native" : wasmKernelsAvailable() ? "wasm" : "js";
    assert.equal(activeKernelFamily(), expected);
    const logs: { event: string; fields: Record<string, unknown> }[] = [];
    const logger = {
      log: (_level: string, event: string, fields: Record<string, unknown> = {}) =>
        logs.push({ event, fields }),
    };
    const server = await startServer({ registry: new TestRegistry("emb"), port: 0, logger });
    await server.close();
    const listening = logs.find((l) => l.event === "server-listening")?.fields;
    assert.equal(listening?.kernels, expected);
    // The native kernels' ISA level the addon chose (null for the other families).
    assert.equal(listening?.isa, expected === "native" ? nativeIsa()?.active : null);
    if (expected === "native") assert.match(String(listening?.isa), /^(v2|v3|v4|neon|generic)$/);
  } finally {
    setKernelChoice(undefined);
  }
});
