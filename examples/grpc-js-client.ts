// Calling Predict from a Node service with @grpc/grpc-js and the generated
// protobuf-es types. Run: API_KEY=<key> npx tsx examples/grpc-js-client.ts [host:port]
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { LoanPurpose, PredictRequestSchema, PredictResponseSchema, type PredictResponse } from "../gen/prediction/v1/prediction_service_pb.js";

const target = process.argv[2] ?? "localhost:8080";
const client = new grpc.Client(target, grpc.credentials.createInsecure());

const request = create(PredictRequestSchema, {
  age: 35,
  income: 55_000,
  creditScore: 720,
  employmentYears: 8.5,
  loanAmount: 25_000,
  loanPurpose: LoanPurpose.HOME,
});
const metadata = new grpc.Metadata();
metadata.set("x-api-key", process.env.API_KEY ?? "");

client.makeUnaryRequest(
  "/prediction.v1.PredictionService/Predict",
  (msg: typeof request) => Buffer.from(toBinary(PredictRequestSchema, msg)),
  (buf: Buffer) => fromBinary(PredictResponseSchema, buf),
  request,
  metadata,
  { deadline: Date.now() + 5_000 },
  (err: grpc.ServiceError | null, res?: PredictResponse) => {
    if (err) {
      console.error(`${grpc.status[err.code]}: ${err.details}`);
      process.exitCode = 1;
    } else {
      console.log(`${res!.decision === 1 ? "approved" : "denied"} p=${res!.probability.toFixed(3)} model=${res!.modelName}@${res!.modelVersion}`);
      for (const f of res!.factors) console.log(`  ${f.contribution >= 0 ? "+" : "-"} ${f.description}`);
    }
    client.close();
  },
);
