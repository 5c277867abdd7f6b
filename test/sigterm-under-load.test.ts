// SIGTERM while the server is busy: 64 calls in flight over gRPC (grpc-js and
// connect-node), gRPC-Web and Connect, on HTTP/1.1 and HTTP/2. Every call sent
// before the signal gets its real answer (none lost to a closed connection),
// and the process exits 0.
import { afterEach, expect, it } from "vitest";
import { VALID } from "./support/applications.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "./support/protocol-clients.js";
import { freePort, killChildren, run, withTimeout } from "./support/server-process.js";
import { API_KEY } from "./support/test-server.js";

const IN_FLIGHT = 64;
const LOAD_MS = 3_000;

afterEach(killChildren);

/** One call; no call is started once SIGTERM is sent. */
interface Sent {
  client: string;
  outcome?: string;
}

it(`answers all ${IN_FLIGHT} calls in flight at SIGTERM, on every protocol, and exits 0`, { timeout: 120_000 }, async () => {
  const port = await freePort();
  // tsx runs the sources under test; node itself gets the signal.
  // METRICS_PORT: a port of its own where /metrics has one, so parallel tests never share it.
  const env = { PORT: String(port), METRICS_PORT: "0", HOST: "127.0.0.1", WORKERS: "1", API_KEYS: API_KEY, LOG_LEVEL: "warn" };
  const child = run(process.execPath, ["--import", "tsx", "src/main.ts"], env);
  const baseUrl = `http://127.0.0.1:${port}`;
  await child.waitUntilServing(baseUrl, 60_000);

  const clients: ProtocolClient[] = PROTOCOL_CLIENTS.map((k) => k.make(baseUrl));
  const sent: Sent[] = [];
  let signalled = false;
  const worker = async (client: ProtocolClient) => {
    while (!signalled) {
      const call: Sent = { client: client.name };
      sent.push(call);
      const r = await client.predict(VALID, { headers: { "x-api-key": API_KEY } });
      call.outcome = r.ok ? "OK" : `${r.code} ${r.message}`;
    }
  };
  const load = Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => worker(clients[i % clients.length]!)));
  await new Promise((r) => setTimeout(r, LOAD_MS));
  signalled = true;
  child.proc.kill("SIGTERM");
  await withTimeout(load, 30_000, "every call in flight at SIGTERM answered");
  const exit = await withTimeout(child.exited, 20_000, "exit after SIGTERM");
  for (const c of clients) c.close();

  const lost = sent.filter((c) => c.outcome !== "OK");
  expect(sent.length).toBeGreaterThan(IN_FLIGHT * 4);
  expect(lost.slice(0, 5), `${lost.length} of ${sent.length} calls sent before SIGTERM not answered OK`).toEqual([]);
  expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
});
