// The key is checked on the headers, before the body: every protected
// procedure, on every protocol, encoding, compression and HTTP version, is
// refused UNAUTHENTICATED without a key, in its protocol's own shape, whether
// its body is garbage or never sent at all, with one log line. Run on both
// paths (FAST_PATH=1 and 0, see vitest.config.ts).
import { Code } from "@connectrpc/connect";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { grpcFrame } from "./support/raw-grpc.js";
import { rpcStatusOf, type HttpVersion, type RawRequest, type RpcProtocol } from "./support/raw-http.js";
import { rawServerForFile } from "./support/raw-server.js";
import { API_KEY } from "./support/test-server.js";

/** Not a protobuf message of any type: the first tag has wire type 7, which does not exist. */
const GARBAGE = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x9a, 0x33, 0x01]);
const GARBAGE_JSON = Buffer.from("{not json");

interface Variant {
  name: string;
  version: HttpVersion;
  protocol: RpcProtocol;
  headers: Record<string, string>;
  body: Uint8Array;
  method?: string;
  query?: string;
}

const gz = (b: Uint8Array) => gzipSync(b);
const enveloped = (b: Uint8Array, compressed = false) => grpcFrame(compressed ? gz(b) : b, { compressed });

/** Every way a client can call a procedure of this kind. */
function variants(streaming: boolean): Variant[] {
  const grpcLike = (protocol: "grpc" | "grpc-web", ct: string, versions: HttpVersion[]): Variant[] =>
    versions.flatMap((version): Variant[] => [
      { name: `${ct} HTTP/${version}`, version, protocol, headers: { "content-type": ct, te: "trailers" }, body: enveloped(GARBAGE) },
      {
        name: `${ct} gzip HTTP/${version}`,
        version,
        protocol,
        headers: { "content-type": ct, te: "trailers", "grpc-encoding": "gzip" },
        body: enveloped(GARBAGE, true),
      },
    ]);
  const common = [...grpcLike("grpc", "application/grpc", ["2"]), ...grpcLike("grpc-web", "application/grpc-web+proto", ["1.1", "2"])];
  if (streaming) {
    const connectStream = (ct: string, body: Uint8Array): Variant[] =>
      (["1.1", "2"] as const).flatMap((version): Variant[] => [
        { name: `${ct} HTTP/${version}`, version, protocol: "connect-stream", headers: { "content-type": ct }, body: enveloped(body) },
        {
          name: `${ct} gzip HTTP/${version}`,
          version,
          protocol: "connect-stream",
          headers: { "content-type": ct, "connect-content-encoding": "gzip" },
          body: enveloped(body, true),
        },
      ]);
    return [...common, ...connectStream("application/connect+proto", GARBAGE), ...connectStream("application/connect+json", GARBAGE_JSON)];
  }
  const connectUnary = (ct: string, body: Uint8Array): Variant[] =>
    (["1.1", "2"] as const).flatMap((version): Variant[] => [
      { name: `${ct} HTTP/${version}`, version, protocol: "connect", headers: { "content-type": ct }, body },
      { name: `${ct} gzip HTTP/${version}`, version, protocol: "connect", headers: { "content-type": ct, "content-encoding": "gzip" }, body: gz(body) },
      {
        name: `${ct} with a query HTTP/${version}`,
        version,
        protocol: "connect",
        headers: { "content-type": ct, "connect-protocol-version": "1" },
        body,
        query: "?x=1",
      },
    ]);
  const get: Variant = {
    name: "Connect GET HTTP/1.1",
    version: "1.1",
    protocol: "connect",
    headers: {},
    body: new Uint8Array(),
    method: "GET",
    query: `?connect=v1&encoding=json&message=${encodeURIComponent("{not json")}`,
  };
  return [...common, ...connectUnary("application/json", GARBAGE_JSON), ...connectUnary("application/proto", GARBAGE), get];
}

const ROWS = PredictionService.methods.flatMap((m) =>
  variants(m.methodKind !== "unary").map((v) => ({ label: `${m.name} ${v.name}`, path: `/${PredictionService.typeName}/${m.name}`, variant: v })),
);

const raw = rawServerForFile();

let ids = 0;
function call(path: string, v: Variant, headers: Record<string, string>, body: RawRequest["body"]) {
  const request: RawRequest = {
    path: path + (v.query ?? ""),
    method: v.method,
    headers: { ...v.headers, ...headers },
    body: v.method === "GET" ? new Uint8Array() : body,
  };
  return raw.request(v.version, request);
}

/** Refused UNAUTHENTICATED in the protocol's own shape, with the request id, and one log line saying so. */
function expectRefused(v: Variant, res: Awaited<ReturnType<typeof call>>, requestId: string, path: string) {
  const { code, trailersOnly } = rpcStatusOf(v.protocol, res);
  expect(code, `HTTP ${res.status} ${JSON.stringify(res.headers)} ${res.body.toString()}`).toBe(Code.Unauthenticated);
  if (v.protocol === "connect") {
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(res.body.toString())).toEqual({ code: "unauthenticated", message: "missing or invalid API key" });
  } else {
    expect(res.status).toBe(200);
    // gRPC and gRPC-Web: trailers-only, the status in the one block of headers.
    if (v.protocol !== "connect-stream") expect(trailersOnly).toBe(true);
  }
  expect(res.headers["x-request-id"]).toBe(requestId);
  const lines = raw.server.logs.filter((l) => l.requestId === requestId);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ msg: "call", method: path, code: "UNAUTHENTICATED" });
}

describe.each(ROWS)("$label", ({ path, variant }) => {
  it("is refused UNAUTHENTICATED without a key, garbage body and all", async () => {
    const requestId = `gate-garbage-${++ids}`;
    const res = await call(path, variant, { "x-request-id": requestId }, variant.body);
    expectRefused(variant, res, requestId, path);
  });

  it("is refused from its headers alone, its body never sent", async () => {
    const requestId = `gate-withheld-${++ids}`;
    const res = await call(path, variant, { "x-request-id": requestId }, "withheld");
    expectRefused(variant, res, requestId, path);
  }, 5_000);

  it("is refused with a wrong key", async () => {
    const requestId = `gate-wrong-${++ids}`;
    const res = await call(path, variant, { "x-request-id": requestId, "x-api-key": `${API_KEY}-not` }, variant.body);
    expectRefused(variant, res, requestId, path);
  });

  // What the server then says (INVALID_ARGUMENT, or 505 for a bidi stream on HTTP/1.1) is other tests' business.
  it("with a valid key, gets past the key (the same garbage is not UNAUTHENTICATED)", async () => {
    const res = await call(path, variant, { "x-api-key": API_KEY }, variant.body);
    expect(res.status).not.toBe(401);
    expect(rpcStatusOf(variant.protocol, res).code, `HTTP ${res.status} ${res.body.toString()}`).not.toBe(Code.Unauthenticated);
  });
});

describe("open services", () => {
  it("answer health checks without a key, on HTTP/1.1 and HTTP/2", async () => {
    for (const version of ["1.1", "2"] as const) {
      const res = await raw.request(version, { path: `/${Health.typeName}/Check`, headers: { "content-type": "application/json" }, body: Buffer.from("{}") });
      expect(res.status, res.body.toString()).toBe(200);
    }
  });
});
