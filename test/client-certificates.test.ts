// TLS_CLIENT_CA_FILE: a TLS client must present a certificate signed by that
// CA, and its subject is logged with each call. The test makes its own CAs
// and certificates with openssl; real server, grpc-js and connect-node
// clients over TLS.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictionService, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { VALID } from "./support/applications.js";
import { grpcJsClient } from "./support/grpc-js-client.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const AUTH = { "x-api-key": API_KEY };
const CLIENT_CN = "client-one";

interface KeyPair {
  key: Buffer;
  cert: Buffer;
  keyFile: string;
  certFile: string;
}

/** An EC key and a certificate: self-signed (a CA) or signed by `issuer`. */
function makeCert(dir: string, name: string, subject: string, issuer?: KeyPair, extensions?: string): KeyPair {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-subj", subject];
  if (!issuer) {
    execFileSync("openssl", ["req", "-x509", ...ec, "-days", "1", "-out", certFile], { stdio: "ignore" });
  } else {
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, extensions ?? "");
    execFileSync("openssl", ["req", "-new", ...ec, "-out", csr], { stdio: "ignore" });
    execFileSync(
      "openssl",
      ["x509", "-req", "-in", csr, "-CA", issuer.certFile, "-CAkey", issuer.keyFile, "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", certFile],
      { stdio: "ignore" },
    );
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), keyFile, certFile };
}

/** Where a bare TLS connection with these credentials ends: "connected" (still open after 300 ms), or how the server ended it. */
function handshake(port: number, ca: Buffer, client?: KeyPair): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, key: client?.key, cert: client?.cert, ALPNProtocols: ["h2"] });
    let secure = false;
    socket.once("secureConnect", () => {
      secure = true;
      // TLS 1.3: the server judges the client's certificate after the client
      // considers the handshake done; its verdict arrives as an alert.
      setTimeout(() => {
        socket.destroy();
        resolve("connected");
      }, 300);
    });
    socket.once("error", (e) => {
      socket.destroy();
      resolve(`${secure ? "after" : "during"} handshake: ${e.message}`);
    });
    // Node's server checks the chain once OpenSSL is done, and closes the connection without an alert.
    socket.once("close", () => resolve("closed by the server"));
  });
}

describe("TLS_CLIENT_CA_FILE: clients must present a certificate from that CA", () => {
  let dir: string;
  let ca: KeyPair;
  let client: KeyPair;
  let stranger: KeyPair;
  let server: TestServer;
  let address: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mtls-"));
    ca = makeCert(dir, "ca", "/CN=Test Client CA");
    const serverCert = makeCert(dir, "server", "/CN=localhost", ca, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    client = makeCert(dir, "client", `/O=Example Tests/CN=${CLIENT_CN}`, ca, "extendedKeyUsage=clientAuth\n");
    const otherCa = makeCert(dir, "other-ca", "/CN=Some Other CA");
    stranger = makeCert(dir, "stranger", "/CN=stranger", otherCa, "extendedKeyUsage=clientAuth\n");
    server = await startTestServer({ TLS_CERT_FILE: serverCert.certFile, TLS_KEY_FILE: serverCert.keyFile, TLS_CLIENT_CA_FILE: ca.certFile });
    address = `localhost:${server.port}`;
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a client with no certificate, or one from another CA, at the handshake", async () => {
    expect(await handshake(server.port, ca.cert)).toMatch(/certificate required/i);
    expect(await handshake(server.port, ca.cert, stranger)).toMatch(/closed by the server|unknown ca/i);
    expect(await handshake(server.port, ca.cert, client)).toBe("connected");
  });

  it("grpc-js: no certificate and a stranger's are UNAVAILABLE; the CA's client is served and its subject logged", async () => {
    const predict = async (credentials: grpc.ChannelCredentials) => {
      const c = grpcJsClient(address, credentials);
      try {
        return await c.unary(PredictionService.method.predict, create(PredictRequestSchema, VALID), { metadata: AUTH, deadlineMs: 10_000 });
      } finally {
        c.close();
      }
    };
    const callsBefore = server.logs.filter((l) => l.msg === "call").length;
    expect((await predict(grpc.credentials.createSsl(ca.cert))).error?.code).toBe(grpc.status.UNAVAILABLE);
    expect((await predict(grpc.credentials.createSsl(ca.cert, stranger.key, stranger.cert))).error?.code).toBe(grpc.status.UNAVAILABLE);
    // Refused before any call was read: nothing logged.
    expect(server.logs.filter((l) => l.msg === "call").length).toBe(callsBefore);

    const r = await predict(grpc.credentials.createSsl(ca.cert, client.key, client.cert));
    expect(r.error).toBeUndefined();
    const requestId = r.header?.get("x-request-id")[0];
    const line = server.logs.find((l) => l.msg === "call" && l.requestId === requestId);
    expect(line?.code).toBe("OK");
    expect(line?.clientSubject).toContain(`CN=${CLIENT_CN}`);
    expect(line?.clientSubject).toContain("O=Example Tests");
  });

  it.each(["2", "1.1"] as const)("connect-node over HTTP/%s: refused without the CA's certificate; served with it, subject logged", async (httpVersion) => {
    const call = (creds: { key?: Buffer; cert?: Buffer }) =>
      createClient(PredictionService, createConnectTransport({ baseUrl: `https://${address}`, httpVersion, nodeOptions: { ca: ca.cert, ...creds } })).predict(
        VALID,
        { headers: AUTH, timeoutMs: 10_000, onHeader: (h) => (requestId = h.get("x-request-id") ?? undefined) },
      );
    let requestId: string | undefined;
    const callsBefore = server.logs.filter((l) => l.msg === "call").length;
    for (const creds of [{}, { key: stranger.key, cert: stranger.cert }]) {
      const e = await call(creds).then(
        () => undefined,
        (err: unknown) => err,
      );
      // The connection is gone before any call is read (the code is the client's reading of a dropped connection).
      expect(e).toBeInstanceOf(ConnectError);
    }
    expect(server.logs.filter((l) => l.msg === "call").length).toBe(callsBefore);
    const res = await call({ key: client.key, cert: client.cert });
    expect(res.modelName).toBe("loan-approval");
    const line = server.logs.find((l) => l.msg === "call" && l.requestId === requestId);
    expect(line?.protocol).toBe("connect");
    expect(line?.clientSubject).toContain(`CN=${CLIENT_CN}`);
  });
});
