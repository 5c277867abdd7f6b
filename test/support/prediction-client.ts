// One real server for a test file and a Connect client (HTTP/2) on it, started
// before the file's tests and closed after them.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll } from "vitest";
import { PredictionService } from "../../gen/prediction/v1/prediction_service_pb.js";
import { API_KEY, startTestServer, type TestServer } from "./test-server.js";

export const AUTH_HEADERS = { "x-api-key": API_KEY };

/** Registers the hooks; call `client()` inside tests. */
export function serverWithClient(): { client: () => Client<typeof PredictionService> } {
  let server: TestServer | undefined;
  let client: Client<typeof PredictionService> | undefined;
  beforeAll(async () => {
    server = await startTestServer();
    client = createClient(PredictionService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2" }));
  });
  afterAll(async () => {
    await server?.close();
  });
  return { client: () => client! };
}
