// Reference: the Predict service as a team would write it with @grpc/grpc-js
// alone: @grpc/proto-loader reads the same .proto files at start-up (with the
// options of grpc-js's own examples), and the handler answers every call with
// one fixed, complete PredictResponse. No auth, validation, logging, metrics
// or model. Plain JavaScript run by plain `node`, as such a service ships.
//
//   node bench/targets/grpcjs-reference.mjs
// Prints "LISTENING <port>" once bound to 127.0.0.1 on a free port.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const protoRoot = fileURLToPath(new URL("../../proto", import.meta.url));
const definition = protoLoader.loadSync("prediction/v1/prediction_service.proto", {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { PredictionService } = grpc.loadPackageDefinition(definition).prediction.v1;

// The same answer as the other references' fixed reply (bench/lib/fixtures.ts).
const reply = {
  decision: "DECISION_APPROVED",
  probability: 0.9972,
  approval_probability: 0.9972,
  model_name: "loan-approval",
  model_version: "1",
  timestamp: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
  factors: [
    { feature: "loan_purpose", contribution: 2.78, description: "loan purpose is lower risk" },
    { feature: "credit_score", contribution: 1.91, description: "credit score is high" },
    { feature: "debt_to_income", contribution: 1.2, description: "loan amount is low relative to income" },
  ],
};

const server = new grpc.Server();
server.addService(PredictionService.service, {
  Predict: (_call, callback) => callback(null, reply),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`LISTENING ${port}`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
