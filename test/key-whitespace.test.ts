// One rule for a key padded with spaces or tabs, on every protocol: the
// padding is no part of the header's value (RFC 9110 5.5), so the key is
// accepted. HTTP/1.1's parser strips it before we see it; on HTTP/2 the
// server asks Node to pass such a field on (strictFieldWhitespaceValidation:
// false) and strips it itself. A Node without that option (before 24.2)
// drops a field whose value ends in whitespace as malformed (RFC 9113 8.2.1):
// the call then has no key, and this test expects what the running Node does
// with each value, found by a probe server.
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import * as http2 from "node:http2";
import { describe, expect, it } from "vitest";
import { PredictionService, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { H2_FIELDS } from "../src/transport/listen.js";
import { VALID } from "./support/applications.js";
import { grpcJsClient } from "./support/grpc-js-client.js";
import { grpcFrame } from "./support/raw-grpc.js";
import { rawRequest, rpcStatusOf, type HttpVersion, type RpcProtocol } from "./support/raw-http.js";
import { rawServerForFile } from "./support/raw-server.js";
import { API_KEY } from "./support/test-server.js";

const PATH = `/${PredictionService.typeName}/Predict`;
const message = create(PredictRequestSchema, VALID);
const framed = grpcFrame(toBinary(PredictRequestSchema, message));
const PADDINGS = [` ${API_KEY}`, `${API_KEY}  `, `\t${API_KEY} \t`];

const CALLS: Array<{ name: string; version: HttpVersion; protocol: RpcProtocol; headers: Record<string, string>; body: Uint8Array }> = [
  { name: "gRPC", version: "2", protocol: "grpc", headers: { "content-type": "application/grpc", te: "trailers" }, body: framed },
  ...(["1.1", "2"] as const).flatMap((version) => [
    { name: "gRPC-Web", version, protocol: "grpc-web" as const, headers: { "content-type": "application/grpc-web+proto" }, body: framed },
    {
      name: "Connect JSON",
      version,
      protocol: "connect" as const,
      headers: { "content-type": "application/json" },
      body: Buffer.from(toJsonString(PredictRequestSchema, message)),
    },
    {
      name: "Connect proto",
      version,
      protocol: "connect" as const,
      headers: { "content-type": "application/proto" },
      body: toBinary(PredictRequestSchema, message),
    },
  ]),
];

const raw = rawServerForFile();

describe.each(CALLS)("$name over HTTP/$version", ({ version, protocol, headers, body }) => {
  it.each(PADDINGS.map((p) => [JSON.stringify(p), p]))("takes the key padded as %s (as x-api-key and as a Bearer token)", async (_label, padded) => {
    for (const [name, value] of [
      ["x-api-key", padded],
      ["authorization", `Bearer ${padded}`],
    ] as const) {
      const accepted = version === "1.1" || (await reachesHandler(value));
      const res = await raw.request(version, { path: PATH, headers: { ...headers, [name]: value }, body });
      expect(rpcStatusOf(protocol, res).code, `${name}: ${JSON.stringify(value)}`).toBe(accepted ? 0 : Code.Unauthenticated);
    }
  });

  it("refuses a key with other characters around it (not whitespace to HTTP)", async () => {
    for (const key of [`${API_KEY}x`, `"${API_KEY}"`, `${API_KEY}\u00a0`]) {
      const res = await raw.request(version, { path: PATH, headers: { ...headers, "x-api-key": key }, body });
      expect(rpcStatusOf(protocol, res).code).toBe(Code.Unauthenticated);
    }
  });
});

describe("grpc-js, which sends the padding as given", () => {
  it("gets the same answer as the raw HTTP/2 calls", async () => {
    const client = grpcJsClient(new URL(raw.server.baseUrl).host);
    try {
      const r = await client.unary(PredictionService.method.predict, message, { metadata: { "x-api-key": ` ${API_KEY} ` } });
      expect(r.error?.code ?? 0).toBe((await reachesHandler(` ${API_KEY} `)) ? 0 : Code.Unauthenticated);
    } finally {
      client.close();
    }
  });
});

const reached = new Map<string, Promise<boolean>>();

/** Whether a header with this value reaches the handler of a bare HTTP/2 server set up as the real one (see listen.ts). */
function reachesHandler(value: string): Promise<boolean> {
  let answer = reached.get(value);
  if (!answer) {
    answer = probe(value);
    reached.set(value, answer);
  }
  return answer;
}

async function probe(value: string): Promise<boolean> {
  const server = http2.createServer(H2_FIELDS, (req, res) => res.end(String(req.headers["x-probe"] !== undefined)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const res = await rawRequest("", "2", { path: "/", method: "GET", headers: { "x-probe": value }, body: new Uint8Array() }, client);
    return res.body.toString() === "true";
  } finally {
    client.close();
    server.close();
  }
}
