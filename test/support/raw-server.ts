// The test server and raw requests to it (a fresh HTTP/1.1 connection each,
// one shared h2c session), started before a test file's tests and stopped after.
import type * as http2 from "node:http2";
import { afterAll, beforeAll } from "vitest";
import { h2cSession } from "./raw-grpc.js";
import { rawRequest, type HttpVersion, type RawRequest, type RawResponse } from "./raw-http.js";
import { startTestServer, type TestServer } from "./test-server.js";

export interface RawServer {
  readonly server: TestServer;
  request(version: HttpVersion, req: RawRequest): Promise<RawResponse>;
}

/** Call at a test file's top level: registers the hooks that start and stop the server. */
export function rawServerForFile(): RawServer {
  let running: { server: TestServer; session: http2.ClientHttp2Session } | undefined;
  beforeAll(async () => {
    const server = await startTestServer();
    running = { server, session: h2cSession(server.baseUrl) };
  });
  afterAll(async () => {
    running?.session.close();
    await running?.server.close();
  });
  const started = () => {
    if (!running) throw new Error("the server starts in beforeAll");
    return running;
  };
  return {
    get server() {
      return started().server;
    },
    request(version, req) {
      const { server, session } = started();
      return rawRequest(server.baseUrl, version, req, session);
    },
  };
}
