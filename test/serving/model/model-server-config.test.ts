import { test } from "node:test";
import assert from "node:assert/strict";
import { parseModelServerConfig } from "../../../src/serving/model/model-server-config.js";

test("parseModelServerConfig: TF Serving's text format, policies and labels per model", () => {
  const models = parseModelServerConfig(
    `model_config_list: {
       config: { name: "a", base_path: "/m/a", model_platform: "tensorflow",
                 model_version_policy: { latest: { num_versions: 2 } } }
       config < name: 'b' base_path: '/m/b' model_version_policy { all {} } >  # angle brackets too
       config { name: "c" base_path: "/m/c" model_version_policy { specific { versions: [3, 4] } }
                version_labels { key: "stable" value: 3 } version_labels { key: "canary" value: 4 } }
       config { name: "d" base_path: "/m/d" model_version_policy { latest {} } }
     }`,
    "models.config",
    "/f.json",
  );
  assert.deepEqual(
    models.map((m) => [
      m.name,
      m.basePath,
      m.featureConfig,
      m.versionPolicy,
      Object.fromEntries(m.versionLabels!),
    ]),
    [
      ["a", "/m/a", "/f.json", { kind: "latest", count: 2 }, {}],
      ["b", "/m/b", "/f.json", { kind: "all" }, {}],
      ["c", "/m/c", "/f.json", { kind: "specific", versions: [3, 4] }, { stable: 3, canary: 4 }],
      ["d", "/m/d", "/f.json", { kind: "latest", count: 1 }, {}],
    ],
  );
});

test("parseModelServerConfig: errors name the file and the model", () => {
  const cases: [string, RegExp][] = [
    [
      "model_config_list { config { name: 'a' base_path: '/x' } config { name: 'a' base_path: '/y' } }",
      /"models.config": model "a" is configured twice/,
    ],
    ["model_config_list { config { base_path: '/x' } }", /config 0 has no name/],
    ["model_config_list { config { name: 'a' } }", /model "a" has no base_path/],
    [
      "model_config_list { config { name: 'a' base_path: '/x' model_platform: 'pytorch' } }",
      /model_platform "pytorch"/,
    ],
    [
      "model_config_list { config { name: 'a' base_path: '/x' model_version_policy { specific { } } } }",
      /lists no versions/,
    ],
    ["model_config_list { }", /has no config/],
    ["", /no model_config_list/],
    [
      "model_config_list { config { nme: 'a' } }",
      /not a text-format tensorflow.serving.ModelServerConfig: unknown field "nme"/,
    ],
    ["custom_model_config { }", /custom_model_config is not supported/],
  ];
  for (const [text, message] of cases)
    assert.throws(() => parseModelServerConfig(text, "models.config"), message, text);
});

test("checkMonitoringConfig: TF Serving's MonitoringConfig; only this server's metrics path", async () => {
  const { checkMonitoringConfig } = await import("../../../src/serving/model/model-server-config.js");
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-monitoring-"));
  try {
    const file = join(dir, "monitoring.config");
    writeFileSync(file, 'prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }');
    await checkMonitoringConfig(file, "/monitoring/prometheus/metrics");
    writeFileSync(file, 'prometheus_config { enable: true, path: "/metrics" }');
    await assert.rejects(
      checkMonitoringConfig(file, "/monitoring/prometheus/metrics"),
      /path "\/metrics"; this server serves metrics at \/monitoring\/prometheus\/metrics/,
    );
    writeFileSync(file, "prometheus { }");
    await assert.rejects(
      checkMonitoringConfig(file, "/m"),
      /not a text-format tensorflow.serving.MonitoringConfig/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
