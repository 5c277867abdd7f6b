// What the fuzz aims at: every procedure the port serves (unary and
// streaming, keyed and open) and one that does not exist, on each protocol's
// content types, so each body reaches every decoding path there is.
import type { DescMessage } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflectionRequestSchema } from "../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ClassifyImageRequestSchema,
  PredictBatchRequestSchema,
  PredictImageRequestSchema,
  PredictRequestSchema,
} from "../gen/prediction/v1/prediction_service_pb.js";

export interface FuzzPath {
  path: string;
  /** The request message the procedure expects (the unknown one gets Predict's). */
  schema: DescMessage;
  /** Client or bidi streaming: Connect frames its body in envelopes. */
  streaming: boolean;
}

const service = "/prediction.v1.PredictionService";

export const FUZZ_PATHS: readonly FuzzPath[] = [
  { path: `${service}/Predict`, schema: PredictRequestSchema, streaming: false },
  { path: `${service}/PredictBatch`, schema: PredictBatchRequestSchema, streaming: false },
  { path: `${service}/ClassifyImage`, schema: ClassifyImageRequestSchema, streaming: false },
  { path: `${service}/PredictImage`, schema: PredictImageRequestSchema, streaming: true },
  { path: "/grpc.health.v1.Health/Check", schema: HealthCheckRequestSchema, streaming: false },
  { path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", schema: ServerReflectionRequestSchema, streaming: true },
  { path: `${service}/NoSuchMethod`, schema: PredictRequestSchema, streaming: false },
];

export const PROTOCOLS = ["grpc", "grpc-web", "connect"] as const;
export type FuzzProtocol = (typeof PROTOCOLS)[number];
export type Codec = "proto" | "json";

/** The request's content type for a protocol, codec and kind of procedure. */
export function contentType(protocol: FuzzProtocol, codec: Codec, streaming: boolean): string {
  switch (protocol) {
    case "grpc":
      return codec === "proto" ? "application/grpc" : "application/grpc+json";
    case "grpc-web":
      return `application/grpc-web+${codec}`;
    case "connect":
      return streaming ? `application/connect+${codec}` : `application/${codec}`;
  }
}

/** Connect unary bodies are the bare message; everything else travels in length-prefixed envelopes. */
export const isEnveloped = (protocol: FuzzProtocol, streaming: boolean) => protocol !== "connect" || streaming;

/** The header naming the compression of the request's messages. */
export function encodingHeader(protocol: FuzzProtocol, streaming: boolean): string {
  if (protocol !== "connect") return "grpc-encoding";
  return streaming ? "connect-content-encoding" : "content-encoding";
}
