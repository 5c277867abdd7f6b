// Managed API keys against the real server on a real socket, with every
// client kind (gRPC, gRPC-Web, Connect): a key's scope, its rate, and its
// revocation, which must reach connections where the key was already
// accepted; then the file itself: reloads, a malformed file, the keys command.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runKeysCommand } from "../src/key-commands.js";
import { hashKey } from "../src/policy/key-file.js";
import { VALID } from "./support/applications.js";
import { drain, imageMessages, STREAM_CLIENTS } from "./support/image-streams.js";
import { PROTOCOL_CLIENTS, type Outcome, type ProtocolClient } from "./support/protocol-clients.js";
import { scrapeMetrics } from "./support/scrape-metrics.js";
import { sample } from "./support/shape-samples.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const REVOCATION_BOUND_MS = 5_000;
const RATE = 2;

let dir: string;
let file: string;
let server: TestServer;
/** Every key made here, by name, to check none reaches the log. */
const keys = new Map<string, string>();
/** Time from a revocation's file write to the first refused call, per client kind. */
const refusedAfterMs: Array<[string, number]> = [];

/** Runs the keys command in this process; returns stdout's last line. */
function keysCommand(...args: string[]): string {
  const lines: string[] = [];
  const notes: string[] = [];
  const code = runKeysCommand([...args, "--file", file], {}, { line: (t) => lines.push(t), note: (t) => notes.push(t) });
  if (code !== 0) throw new Error(`keys ${args.join(" ")}: exit ${code}: ${notes.join("\n")}`);
  return lines.at(-1) ?? "";
}

function addKey(name: string, ...options: string[]): string {
  const key = keysCommand("add", name, ...options);
  keys.set(name, key);
  return key;
}

const auth = (key: string) => ({ headers: { "x-api-key": key } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls until `done` holds for an outcome or `ms` pass; returns the time it took, or undefined. */
async function untilOutcome(call: () => Promise<Outcome<unknown>>, done: (o: Outcome<unknown>) => boolean, ms: number): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (done(await call())) return performance.now() - t0;
    await sleep(50);
  }
  return undefined;
}

const CLIENTS = PROTOCOL_CLIENTS.map((f, i) => [f.name, f, i] as const);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pred-managed-keys-"));
  file = join(dir, "api-keys.json");
  addKey("batch-jobs", "--methods", "PredictBatch");
  addKey("steady");
  for (const [, , i] of CLIENTS) {
    addKey(`doomed-${i}`);
    addKey(`limited-${i}`, "--rate", String(RATE));
  }
  server = await startTestServer({ API_KEYS: "", API_KEYS_FILE: file });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  if (refusedAfterMs.length > 0) console.log(`revoked key refused after (ms): ${refusedAfterMs.map(([n, t]) => `${n} ${t.toFixed(0)}`).join("; ")}`);
});

describe.each(CLIENTS)("%s", (name, factory, i) => {
  let client: ProtocolClient;
  beforeAll(() => {
    client = factory.make(server.baseUrl);
  });
  afterAll(() => client?.close());

  it("refuses a method outside the key's scope with PERMISSION_DENIED naming the rule, and serves the methods in it", async () => {
    const denied = await client.predict(VALID, auth(keys.get("batch-jobs")!));
    expect(denied.ok).toBe(false);
    if (denied.ok) return;
    expect(denied.code).toBe(Code.PermissionDenied);
    expect(denied.message).toBe("key 'batch-jobs' may not call Predict");
    const line = server.logs.find((l) => l.msg === "call" && l.requestId === denied.requestId);
    expect(line).toMatchObject({ key: "batch-jobs", code: "PERMISSION_DENIED" });

    const allowed = await client.predictBatch({ inputs: [VALID, VALID] }, auth(keys.get("batch-jobs")!));
    expect(allowed.ok).toBe(true);
    // An unscoped key calls both.
    expect((await client.predict(VALID, auth(keys.get("steady")!))).ok).toBe(true);
  });

  it(`holds a key to ${RATE} calls a second: RESOURCE_EXHAUSTED with RetryInfo past the burst, admitted again after the wait`, async () => {
    const key = keys.get(`limited-${i}`)!;
    const outcomes = await Promise.all(Array.from({ length: RATE + 3 }, () => client.predict(VALID, auth(key))));
    const ok = outcomes.filter((o) => o.ok).length;
    const refused = outcomes.filter((o) => !o.ok);
    // The burst is RATE; a slow machine may have refilled a token while the calls were sent.
    expect(ok).toBeGreaterThanOrEqual(RATE);
    expect(ok).toBeLessThanOrEqual(RATE + 1);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const r of refused) {
      if (r.ok) continue;
      expect(r.code).toBe(Code.ResourceExhausted);
      expect(r.message).toBe(`key 'limited-${i}' is over its rate of ${RATE} calls per second`);
      const delay = r.retryInfo?.retryDelay;
      expect(delay, "a google.rpc.RetryInfo detail").toBeDefined();
      const delayMs = Number(delay!.seconds) * 1000 + delay!.nanos / 1e6;
      expect(delayMs).toBeGreaterThan(0);
      expect(delayMs).toBeLessThanOrEqual(1000 / RATE);
    }
    const lastDelay = (refused.at(-1) as { retryInfo?: { retryDelay?: { seconds: bigint; nanos: number } } }).retryInfo!.retryDelay!;
    await sleep(Number(lastDelay.seconds) * 1000 + lastDelay.nanos / 1e6 + 20);
    expect((await client.predict(VALID, auth(key))).ok).toBe(true);
    // Another key is not held back by this one's bucket.
    expect((await client.predict(VALID, auth(keys.get("steady")!))).ok).toBe(true);
  });

  it("refuses a revoked key within 5 s, on the connection where it was accepted, while other keys go on", async () => {
    const doomed = keys.get(`doomed-${i}`)!;
    // Accepted twice on this client's connection: the second time from the connection's cache.
    expect((await client.predict(VALID, auth(doomed))).ok).toBe(true);
    expect((await client.predict(VALID, auth(doomed))).ok).toBe(true);
    keysCommand("revoke", `doomed-${i}`);
    const took = await untilOutcome(
      () => client.predict(VALID, auth(doomed)),
      (o) => !o.ok && o.code === Code.Unauthenticated,
      REVOCATION_BOUND_MS,
    );
    expect(took, "refused within 5 s").toBeDefined();
    refusedAfterMs.push([name, took!]);
    expect((await client.predict(VALID, auth(keys.get("steady")!))).ok).toBe(true);
  });
});

describe("the key file while the server runs", () => {
  it("lets a PredictImage stream already open finish when its key is revoked", async () => {
    const key = addKey("streaming");
    const client = PROTOCOL_CLIENTS[0].make(server.baseUrl);
    expect(
      await untilOutcome(
        () => client.predict(VALID, auth(key)),
        (o) => o.ok,
        REVOCATION_BOUND_MS,
      ),
      "the new key taken",
    ).toBeDefined();
    const { stream, close } = STREAM_CLIENTS[0].open(server.baseUrl, { "x-api-key": key });
    try {
      const image = await sample("star", 6);
      const send = (id: string) => stream.send(...imageMessages(id, image.bytes, { contentType: image.contentType, sizeBytes: true }));
      send("before");
      expect((await stream.next(30_000))?.id).toBe("before");
      keysCommand("revoke", "streaming");
      const took = await untilOutcome(
        () => client.predict(VALID, auth(key)),
        (o) => !o.ok && o.code === Code.Unauthenticated,
        REVOCATION_BOUND_MS,
      );
      expect(took, "new calls refused").toBeDefined();
      send("after");
      expect((await stream.next(30_000))?.id).toBe("after");
      stream.end();
      expect((await drain(stream)).end.code).toBe(0);
    } finally {
      close();
      client.close();
    }
  });

  it("keeps the last good keys when the file turns malformed or goes away, and logs the field without key material", async () => {
    const good = readFileSync(file, "utf8");
    const steady = keys.get("steady")!;
    const broken = JSON.parse(good) as { keys: Array<{ name: string; rate?: number }> };
    broken.keys.find((k) => k.name === "steady")!.rate = -1;
    const errors = () => server.logs.filter((l) => l.msg === "API_KEYS_FILE is malformed: the last good keys stay in force");
    const before = errors().length;
    writeFileSync(file, JSON.stringify(broken));
    const t0 = Date.now();
    while (errors().length === before && Date.now() - t0 < REVOCATION_BOUND_MS) await sleep(50);
    expect(errors().length).toBeGreaterThan(before);
    expect(errors().at(-1)?.error).toMatch(/^keys\[\d+\]\.rate \(key 'steady'\): expected an integer/);
    const client = PROTOCOL_CLIENTS[0].make(server.baseUrl);
    try {
      expect((await client.predict(VALID, auth(steady))).ok).toBe(true);
      // Garbage, then no file at all, then the good file back: still served throughout.
      writeFileSync(file, "{ not json");
      await sleep(1500);
      expect((await client.predict(VALID, auth(steady))).ok).toBe(true);
      rmSync(file);
      const unreadable = () => server.logs.some((l) => l.msg === "API_KEYS_FILE cannot be read: the last good keys stay in force");
      const t1 = Date.now();
      while (!unreadable() && Date.now() - t1 < REVOCATION_BOUND_MS) await sleep(50);
      expect(unreadable()).toBe(true);
      expect((await client.predict(VALID, auth(steady))).ok).toBe(true);
      writeFileSync(file, good);
    } finally {
      client.close();
    }
  });

  it("npm run keys: add prints the key alone on stdout's last line, the server takes it, list shows no key, revoke removes it", async () => {
    const exec = promisify(execFile);
    const npm = (...args: string[]) => exec("npm", ["run", "--silent", "keys", "--", ...args, "--file", file], { cwd: process.cwd() });
    const added = await npm("add", "from-cli", "--methods", "Predict,PredictBatch", "--rate", "50");
    const key = added.stdout.trimEnd().split("\n").at(-1)!;
    keys.set("from-cli", key);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(added.stderr).not.toContain(key);
    const stored = readFileSync(file, "utf8");
    expect(stored).not.toContain(key);
    expect(stored).toContain(hashKey(key));

    const client = PROTOCOL_CLIENTS[0].make(server.baseUrl);
    try {
      const took = await untilOutcome(
        () => client.predict(VALID, auth(key)),
        (o) => o.ok,
        REVOCATION_BOUND_MS,
      );
      expect(took, "a new key accepted within 5 s").toBeDefined();

      const listed = (await npm("list")).stdout;
      expect(listed).toMatch(/^from-cli\tmethods: Predict,PredictBatch; rate: 50\/s\tcreated \S+$/m);
      expect(listed).not.toContain(key);
      expect(listed).not.toContain(hashKey(key));

      await npm("revoke", "from-cli");
      const refused = await untilOutcome(
        () => client.predict(VALID, auth(key)),
        (o) => !o.ok && o.code === Code.Unauthenticated,
        REVOCATION_BOUND_MS,
      );
      expect(refused, "refused within 5 s").toBeDefined();
      refusedAfterMs.push(["npm run keys revoke, grpc-js", refused!]);
    } finally {
      client.close();
    }
  }, 60_000);

  it("counts calls by key name, and never writes a key or its digest to the log", async () => {
    const samples = (await scrapeMetrics(server.metricsBaseUrl)).filter((s) => s.name === "rpc_server_calls_total");
    const sum = (labels: Record<string, string>) =>
      samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
    const predict = "/prediction.v1.PredictionService/Predict";
    expect(sum({ method: predict, code: "PERMISSION_DENIED", key: "batch-jobs" })).toBe(CLIENTS.length);
    expect(sum({ method: predict, code: "RESOURCE_EXHAUSTED", key: "limited-0" })).toBeGreaterThanOrEqual(2);
    expect(sum({ method: predict, code: "UNAUTHENTICATED", key: "" })).toBeGreaterThanOrEqual(CLIENTS.length);
    const raw = server.rawLogs();
    for (const [keyName, key] of keys) {
      expect(raw, keyName).not.toContain(key);
      expect(raw, keyName).not.toContain(hashKey(key));
    }
  });
});
