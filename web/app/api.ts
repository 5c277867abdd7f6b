// One PredictionService client per transport the page offers, on this
// origin (no CORS), sending the current API key with every call.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { PredictionService } from "../../gen/prediction/v1/prediction_service_pb.js";

export type TransportName = "connect" | "grpc-web";
export type PredictionClient = Client<typeof PredictionService>;

export const TRANSPORT_LABELS: Record<TransportName, string> = { connect: "Connect (JSON)", "grpc-web": "gRPC-Web (binary)" };

export function createClients(apiKey: () => string): Record<TransportName, PredictionClient> {
  const withKey: Interceptor = (next) => (req) => {
    const key = apiKey();
    if (key) req.header.set("x-api-key", key);
    return next(req);
  };
  const options = { baseUrl: location.origin, interceptors: [withKey] };
  return {
    connect: createClient(PredictionService, createConnectTransport(options)),
    "grpc-web": createClient(PredictionService, createGrpcWebTransport(options)),
  };
}
