// Reference: the simplest @grpc/grpc-js server that answers Predict. It
// registers the method with a generic service definition (no .proto loading),
// decodes each request with protobuf-es and encodes a fixed PredictResponse
// with it: what a trivial Node gRPC service costs, with no auth, validation,
// logging, metrics or model.
//
//   node --import tsx bench/targets/grpcjs-reference.ts <reply-message-base64>
// Prints "LISTENING <port>" once bound to 127.0.0.1 on a free port.
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  PredictionService,
  PredictRequestSchema,
  PredictResponseSchema,
  type PredictRequest,
  type PredictResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";

const reply: PredictResponse = fromBinary(PredictResponseSchema, Buffer.from(process.argv[2] ?? "", "base64"));

const definition: grpc.ServiceDefinition = {
  Predict: {
    path: `/${PredictionService.typeName}/${PredictionService.method.predict.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: PredictRequest) => Buffer.from(toBinary(PredictRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(PredictRequestSchema, b),
    responseSerialize: (m: PredictResponse) => Buffer.from(toBinary(PredictResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(PredictResponseSchema, b),
  },
};

const server = new grpc.Server();
server.addService(definition, {
  Predict: (_call: grpc.ServerUnaryCall<PredictRequest, PredictResponse>, callback: grpc.sendUnaryData<PredictResponse>) => callback(null, reply),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`LISTENING ${port}`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
