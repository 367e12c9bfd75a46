import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnCli } from "./helpers.js";
import { cellValue, tempDir, USER_DIM, writeVersion } from "../serving/model/helpers.js";
import { connect, int64Tensor, readFloat, unary, type Msg } from "../serving/grpc/support.js";

const config = (rank: string, ads: string) => `# two models, TF Serving's ModelServerConfig text format
model_config_list {
  config {
    name: "rank"
    base_path: "${rank}"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config {
    name: 'ads'
    base_path: '${ads}'
  }
}
`;

test("serve --model_config_file (TF Serving's launch flags): two models with their own versions and labels over gRPC and REST, reloaded when the file changes", async () => {
  const rankBase = tempDir();
  const adsBase = tempDir();
  const dir = tempDir();
  await writeVersion(rankBase, 1);
  await writeVersion(rankBase, 2);
  await writeVersion(rankBase, 3); // not in the specific policy
  await writeVersion(adsBase, 5);
  const file = join(dir, "models.config");
  writeFileSync(file, config(rankBase, adsBase));
  // TF Serving's launch line: --port is the gRPC port when --rest_api_port is given.
  const server = await spawnCli(
    [
      "serve",
      "--port=0",
      "--rest_api_port=0",
      `--model_config_file=${file}`,
      "--model_config_file_poll_wait_seconds=0.1",
      "--file_system_poll_wait_seconds=0",
      "--enable_batching=true",
    ],
    /gRPC \(TF Serving's PredictionService\) at (http:\/\/\S+)/,
  );
  const clients = connect(server.url);
  try {
    const status = async (name: string) => unary(clients.model, "GetModelStatus", { model_spec: { name } });
    const rank = await status("rank");
    assert.deepEqual(
      rank.response.model_version_status.map((s: Msg) => [s.version, s.state]),
      [
        ["2", "AVAILABLE"],
        ["1", "AVAILABLE"],
      ],
    );
    const ads = await status("ads");
    assert.deepEqual(
      ads.response.model_version_status.map((s: Msg) => [s.version, s.state]),
      [["5", "AVAILABLE"]],
    );

    const friendsOf = async (spec: Msg) => {
      const { response, error } = await unary(clients.prediction, "Predict", {
        model_spec: spec,
        inputs: { "user/friends": int64Tensor([3], [1], "int64_val") },
      });
      assert.equal(error, undefined, error?.details);
      return {
        version: Number(response.model_spec.version.value),
        data: Array.from(readFloat(response.outputs["user/friends"]).data),
      };
    };
    const expected = (version: number) =>
      Array.from({ length: USER_DIM }, (_, c) => cellValue(version, "user", 3 * USER_DIM + c));
    assert.deepEqual(await friendsOf({ name: "rank", version_label: "stable" }), {
      version: 1,
      data: expected(1),
    });
    assert.deepEqual(await friendsOf({ name: "rank", version_label: "canary" }), {
      version: 2,
      data: expected(2),
    });
    assert.deepEqual(await friendsOf({ name: "rank" }), { version: 2, data: expected(2) });
    assert.deepEqual(await friendsOf({ name: "ads" }), { version: 5, data: expected(5) });

    // REST serves the same models.
    const serving = server.logs.find((l) => l.event === "serving" && l.model === "ads");
    const restUrl = serving?.url as string;
    const rest = await fetch(`${restUrl}/v1/models/rank/labels/stable:predict`, {
      method: "POST",
      body: JSON.stringify({ inputs: { "user/friends": { dense: [3] } } }),
    });
    assert.equal(rest.status, 200);
    assert.deepEqual(((await rest.json()) as Msg).outputs["user/friends"][0], expected(1));

    // Reload: ads removed, rank's policy and labels changed, a new model on ads's base path.
    writeFileSync(
      file,
      `model_config_list {
  config { name: "rank" base_path: "${rankBase}" model_version_policy { latest { num_versions: 2 } } version_labels { key: "stable" value: 3 } }
  config { name: "ads2" base_path: "${adsBase}" }
}`,
    );
    for (let i = 0; i < 500; i++) {
      const gone = await status("ads");
      const added = await status("ads2");
      const r = await status("rank");
      if (
        gone.error !== undefined &&
        added.error === undefined &&
        r.response?.model_version_status.map((s: Msg) => `${s.version}:${s.state}`).join() ===
          "3:AVAILABLE,2:AVAILABLE,1:END"
      )
        break;
      await sleep(20);
    }
    const gone = await status("ads");
    assert.equal(gone.error?.details, "Could not find any versions of model ads");
    assert.deepEqual(await friendsOf({ name: "ads2" }), { version: 5, data: expected(5) });
    assert.deepEqual(await friendsOf({ name: "rank", version_label: "stable" }), {
      version: 3,
      data: expected(3),
    });
    const canary = await unary(clients.prediction, "Predict", {
      model_spec: { name: "rank", version_label: "canary" },
      inputs: { "user/friends": int64Tensor([3], [1], "int64_val") },
    });
    assert.match(canary.error?.details ?? "", /Unrecognized servable version label: canary/);

    // A broken file is logged and changes nothing.
    writeFileSync(file, "model_config_list { config { nme: 1 } }");
    for (let i = 0; i < 200 && !server.logs.some((l) => l.event === "model-config-reload-failed"); i++)
      await sleep(20);
    const failed = server.logs.find((l) => l.event === "model-config-reload-failed");
    assert.match(String(failed?.error), /unknown field "nme"/);
    assert.deepEqual(await friendsOf({ name: "ads2" }), { version: 5, data: expected(5) });

    // ModelService/HandleReloadConfigRequest: the new config supersedes the file's.
    const reload = await unary(clients.model, "HandleReloadConfigRequest", {
      config: { model_config_list: { config: [{ name: "rank", base_path: rankBase }] } },
    });
    assert.equal(reload.error, undefined, reload.error?.details);
    assert.equal((await status("ads2")).error?.code, 5 /* NOT_FOUND */);
    assert.deepEqual(
      (await status("rank")).response.model_version_status.map((s: Msg) => `${s.version}:${s.state}`),
      ["3:AVAILABLE", "2:END", "1:END"],
    );

    server.proc.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  } finally {
    clients.close();
    server.proc.kill("SIGKILL");
    for (const d of [rankBase, adsBase, dir]) rmSync(d, { recursive: true, force: true });
  }
});
