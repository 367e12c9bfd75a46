import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { PROTO_DIR, type Msg } from "./support.js";

test("server reflection (v1 and v1alpha): services, and TF Serving's files with their imports, as grpcurl asks", async () => {
  const { server } = await serveTestModel(await buildTestModel(1, 5), { grpcPort: 0 });
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(
      ["grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto"],
      {
        keepCase: true,
        oneofs: true,
        includeDirs: [PROTO_DIR],
      },
    ),
  ) as Msg;
  const address = server.grpc!.url.replace("http://", "");
  try {
    for (const version of ["v1", "v1alpha"]) {
      const client = new pkg.grpc.reflection[version].ServerReflection(
        address,
        grpc.credentials.createInsecure(),
      );
      const call = client.ServerReflectionInfo();
      const responses: Msg[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (m: Msg) => responses.push(m));
        call.on("end", resolve);
        call.on("error", reject);
      });
      call.write({ list_services: "" });
      call.write({ file_containing_symbol: "tensorflow.serving.PredictionService" });
      call.write({ file_by_filename: "tensorflow_serving/apis/model_service.proto" });
      call.write({ file_containing_symbol: "tensorflow.serving.Nope" });
      call.end();
      await done;
      client.close();
      assert.equal(responses.length, 4);
      assert.deepEqual(responses[0].list_services_response.service.map((s: Msg) => s.name).sort(), [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "tensorflow.serving.ModelService",
        "tensorflow.serving.PredictionService",
      ]);
      const files = responses[1].file_descriptor_response.file_descriptor_proto.map((b: Buffer) =>
        fromBinary(FileDescriptorProtoSchema, b),
      );
      assert.equal(files[0].name, "tensorflow_serving/apis/prediction_service.proto");
      const names = files.map((f: Msg) => f.name);
      for (const needed of [
        "tensorflow_serving/apis/predict.proto",
        "tensorflow/core/framework/tensor.proto",
        "tensorflow_serving/apis/model.proto",
        "google/protobuf/wrappers.proto",
      ]) {
        assert.ok(names.includes(needed), `${needed} in ${names.join(", ")}`);
      }
      const predict = files.find((f: Msg) => f.name === "tensorflow_serving/apis/predict.proto");
      const request = predict.messageType.find((m: Msg) => m.name === "PredictRequest");
      assert.deepEqual(
        request.field.map((f: Msg) => [f.name, f.number]),
        [
          ["model_spec", 1],
          ["inputs", 2],
          ["output_filter", 3],
          ["predict_streamed_options", 5],
          ["client_id", 6],
          ["request_options", 7],
        ],
      );
      // Files already sent on this stream are not sent again; the asked-for file always is.
      const modelService = responses[2].file_descriptor_response.file_descriptor_proto.map(
        (b: Buffer) => fromBinary(FileDescriptorProtoSchema, b).name,
      );
      assert.equal(modelService[0], "tensorflow_serving/apis/model_service.proto");
      assert.ok(!modelService.includes("tensorflow_serving/apis/model.proto"));
      assert.equal(responses[3].error_response.error_code, grpc.status.NOT_FOUND);
    }
  } finally {
    await server.close();
  }
});
