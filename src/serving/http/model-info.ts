import { InvalidArgumentError, NotFoundError } from "../../errors.js";
import type { ModelRegistry, ServableFeature, ServableModel, VersionStatus } from "../model-registry.js";
import type { ModelTarget } from "./routes.js";

/** `GET /v1/models/{name}[/versions/{v}|/labels/{l}]`: TF Serving's GetModelStatusResponse as JSON. */
export function statusJson(registry: ModelRegistry, target: ModelTarget): string {
  let version = target.version;
  if (target.label !== undefined) {
    version = registry.labels(target.model).get(target.label);
    if (version === undefined)
      throw new InvalidArgumentError(`Unrecognized servable version label: ${target.label}`);
  }
  const statuses = registry.status(target.model, version);
  if (statuses.length === 0) {
    throw new NotFoundError(
      `Could not find any versions of model ${target.model}` +
        (version === undefined ? "" : ` (version ${version})`),
    );
  }
  return JSON.stringify({ model_version_status: statuses.map(versionStatusJson) }, null, 1);
}

function versionStatusJson(s: VersionStatus) {
  return {
    version: String(s.version),
    state: s.state,
    status: { error_code: s.errorCode, error_message: s.errorMessage },
  };
}

/**
 * `GET .../metadata`: TF Serving's GetModelMetadataResponse with a `serving_default` signature. Per
 * feature, by its input kind (features.json `"input"`, default ragged): ragged and sparse features have
 * an int64 input `<feature>` `[-1, -1]`, a float input `<feature>_weights` and a float output; a dense
 * feature an int64 input of unknown rank (any id tensor) and no weights, its output `shape + [dim]` of
 * unknown rank too. `tpu_embedding` adds each feature's input kind, table, vocabulary, dim and combiner.
 */
export function metadataJson(model: ServableModel): string {
  const inputs: Record<string, unknown> = {};
  const outputs: Record<string, unknown> = {};
  for (const f of model.features) {
    if (f.input === "dense") {
      inputs[f.name] = tensorInfo(`${f.name}:0`, "DT_INT64", null);
      outputs[f.name] = tensorInfo(`${f.name}_embedding:0`, "DT_FLOAT", null);
      continue;
    }
    inputs[f.name] = tensorInfo(`${f.name}:0`, "DT_INT64", [-1, -1]);
    inputs[`${f.name}_weights`] = tensorInfo(`${f.name}_weights:0`, "DT_FLOAT", [-1, -1]);
    outputs[f.name] = tensorInfo(`${f.name}_embedding:0`, "DT_FLOAT", outputDims(f));
  }
  return JSON.stringify(
    {
      model_spec: { name: model.name, signature_name: "", version: String(model.version) },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: { inputs, outputs, method_name: "tensorflow/serving/predict", defaults: {} },
          },
        },
        tpu_embedding: {
          checkpoint: model.checkpoint,
          table_bytes: String(model.tableBytes),
          features: model.features.map((f) => ({
            name: f.name,
            input: f.input ?? "ragged",
            input_declared: f.input !== undefined,
            table: f.table,
            vocabulary_size: String(f.vocabularySize),
            dim: f.dim,
            combiner: f.combiner,
            max_sequence_length: f.maxSequenceLength,
            output_shape: f.outputShape,
          })),
        },
      },
    },
    null,
    1,
  );
}

/** The output shape for ragged input: `[-1, dim]`, `[-1, L, dim]` for sequences, `outputShape + [dim]`. */
function outputDims(f: ServableFeature): number[] {
  if (f.outputShape !== null) return [...f.outputShape, f.dim];
  return f.maxSequenceLength > 0 ? [-1, f.maxSequenceLength, f.dim] : [-1, f.dim];
}

/** A TensorInfo; `dims` null: unknown rank (TF's `TensorShapeProto { unknown_rank: true }`). */
function tensorInfo(name: string, dtype: string, dims: number[] | null) {
  return {
    dtype,
    tensor_shape:
      dims === null
        ? { dim: [], unknown_rank: true }
        : { dim: dims.map((d) => ({ size: String(d), name: "" })), unknown_rank: false },
    name,
  };
}
