// The server's overall health over gRPC, read from the raw answer.
import type * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { splitFrames } from "../test/support/grpc-frames.js";
import { grpcFrame, rawGrpc } from "../test/support/raw-grpc.js";

/** "SERVING", "NOT_SERVING", ... or what went wrong instead. */
export async function servingStatus(session: http2.ClientHttp2Session, service = ""): Promise<string> {
  const request = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }));
  const r = await rawGrpc(session, { path: "/grpc.health.v1.Health/Check", frames: [grpcFrame(request)], timeoutMs: 5_000 });
  if (r.grpcStatus !== 0) return `grpc-status ${r.grpcStatus} ${r.grpcMessage ?? ""}`;
  const frame = splitFrames(r.body)[0];
  return frame ? (Serving[fromBinary(HealthCheckResponseSchema, frame.data).status] ?? "?") : "no message";
}
