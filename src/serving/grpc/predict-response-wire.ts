import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import { ModelSpecSchema } from "./proto/gen/tensorflow_serving/apis/model_pb.js";
import { floatTensorProtoBytes, varintSize, writeFloatTensorProtoAt, writeVarint } from "./tensor-wire.js";
import { BoundedCache, utf8Name } from "../bounded-cache.js";

type ModelSpecInit = MessageInitShape<typeof ModelSpecSchema>;

/** A Predict's answer before it is serialized: the model spec and the outputs `names`, in that order. */
export interface PredictAnswer {
  readonly modelSpec: ModelSpecInit;
  readonly outputs: PredictOutputs;
  readonly names: readonly string[];
}

/** A version's serialized ModelSpec (name, version, signature): the same for every answer it gives. */
const specs = new BoundedCache<string, Uint8Array>(1024);

function specBytes(spec: ModelSpecInit): Uint8Array {
  const choice = spec.versionChoice;
  let version = "";
  if (choice?.case === "version") version = `v${choice.value.value ?? 0}`;
  else if (choice?.case === "versionLabel") version = `l${choice.value}`;
  const key = `${spec.name ?? ""}\u0000${version}\u0000${spec.signatureName ?? ""}`;
  return specs.get(key, () => toBinary(ModelSpecSchema, create(ModelSpecSchema, spec)));
}

/**
 * The answer as a PredictResponseWire, byte for byte as protobuf-es serializes the message with the outputs
 * as TensorProto bytes (`outputs` map entries in JavaScript's key order, key 1 and value 2, then
 * `model_spec`), after gRPC's 5-byte message header when `framed`. The Predict fast path's answer: each
 * TensorProto is written straight into the message (one copy of the lookup's memory, one buffer); protobuf-es's
 * generic writer cost ~16 µs per batch-1 answer of 26 outputs. Byte-identity with `toBinary` is tested
 * (test/serving/grpc/predict-response-wire.test.ts).
 */
export function encodePredictAnswerWire(answer: PredictAnswer, framed: boolean): Uint8Array {
  const spec = specBytes(answer.modelSpec);
  const { outputs } = answer;
  // The order protobuf-es writes a map in: Object.entries of the record (integer-like keys first).
  const record: Record<string, true> = Object.create(null) as Record<string, true>;
  for (const name of answer.names) record[name] = true;
  const names = Object.keys(record);
  // Each entry's key, output and sizes, found once and written in the second pass.
  const keys = new Array<Uint8Array>(names.length);
  const tensors = new Array<FeatureOutput>(names.length);
  const tensorSizes = new Array<number>(names.length);
  const entrySizes = new Array<number>(names.length);
  let size = 1 + varintSize(spec.length) + spec.length;
  for (let i = 0; i < names.length; i++) {
    const key = (keys[i] = utf8Name(names[i]));
    const o = (tensors[i] = outputs.get(names[i])!);
    const tensor = (tensorSizes[i] = floatTensorProtoBytes(o.data, o.shape));
    const entry = (entrySizes[i] = 1 + varintSize(key.length) + key.length + 1 + varintSize(tensor) + tensor);
    size += 1 + varintSize(entry) + entry;
  }
  const head = framed ? 5 : 0;
  const out = new Uint8Array(head + size);
  if (framed) new DataView(out.buffer).setUint32(1, size, false); // out[0] = 0: not compressed
  let pos = head;
  for (let i = 0; i < names.length; i++) {
    const key = keys[i];
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, entrySizes[i]);
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, key.length);
    out.set(key, pos);
    pos += key.length;
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, tensorSizes[i]);
    pos = writeFloatTensorProtoAt(out, pos, tensors[i].data, tensors[i].shape);
  }
  out[pos++] = 0x12;
  pos = writeVarint(out, pos, spec.length);
  out.set(spec, pos);
  return out;
}
