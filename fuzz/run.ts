// npm run fuzz: sends thousands of malformed bodies, from a fixed seed, over
// gRPC, gRPC-Web and Connect to two real servers (unary fast path on and
// off), and fails on any hang, reset, HTTP 5xx, INTERNAL or UNKNOWN, or
// server error log line, or if health is not SERVING at the end. Each
// failure is printed with its case and the command that replays it.
import type * as http2 from "node:http2";
import { readOptions } from "../bench/lib/cli.js";
import { h2cSession } from "../test/support/raw-grpc.js";
import { API_KEY, startTestServer, type TestServer } from "../test/support/test-server.js";
import { describeCase, fuzzCase, type ServerPath } from "./cases.js";
import { servingStatus } from "./health.js";
import { FuzzTally } from "./tally.js";
import { sendCase } from "./send.js";
import { problems, type LogLine } from "./verdict.js";

const options = { seed: 20261206, bodies: 10_500, concurrency: 16, timeoutMs: 10_000, only: undefined as number[] | undefined };

function usage(error?: string): never {
  if (error) console.error(error);
  console.error("usage: npm run fuzz -- [--seed N] [--bodies N] [--concurrency N] [--timeout-ms N] [--only i,j,...]");
  process.exit(error ? 2 : 0);
}

readOptions(process.argv.slice(2), usage, (o) => {
  if (o.flag === "--seed") options.seed = o.number(0, true);
  else if (o.flag === "--bodies") options.bodies = o.number(1, true);
  else if (o.flag === "--concurrency") options.concurrency = o.number(1, true);
  else if (o.flag === "--timeout-ms") options.timeoutMs = o.number(100, true);
  else if (o.flag === "--only") options.only = o.numbers(0, true);
  else usage(`unknown option ${o.flag}`);
});

/** A server under fuzz, with a few HTTP/2 connections that are replaced when the server closes one. */
class Target {
  private sessions: http2.ClientHttp2Session[] = [];
  private turn = 0;
  constructor(readonly server: TestServer) {}

  session = (): http2.ClientHttp2Session => {
    const i = this.turn++ % 4;
    const s = this.sessions[i];
    if (s && !s.closed && !s.destroyed) return s;
    const session = h2cSession(this.server.baseUrl);
    this.sessions[i] = session;
    return session;
  };

  get port(): number {
    return this.server.port;
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const servers: Record<ServerPath, Target> = {
    fast: new Target(await startTestServer({ FAST_PATH: "1", LOG_LEVEL: "info" })),
    connect: new Target(await startTestServer({ FAST_PATH: "0", LOG_LEVEL: "info" })),
  };
  const indexes = options.only ?? Array.from({ length: options.bodies }, (_, i) => i);
  const tally = new FuzzTally();
  const sent: Array<{ index: number; server: ServerPath }> = [];
  let next = 0;
  const worker = async () => {
    while (next < indexes.length) {
      const c = fuzzCase(options.seed, indexes[next++]!);
      const headers: Record<string, string> = { "x-request-id": `fuzz-${c.index}` };
      if (c.keyed) headers["x-api-key"] = API_KEY;
      const reply = await sendCase(c, servers[c.server], headers, options.timeoutMs);
      tally.count(c, reply);
      // A replay shows each case in full: what was sent and what came back.
      if (options.only)
        console.log(describeCase(c), JSON.stringify({ headers: c.body.headers, body: Buffer.concat(c.body.pieces).toString("base64").slice(0, 400), reply }));
      sent.push({ index: c.index, server: c.server });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));

  // The server's view of each case, by the request id the case sent.
  const byRequest = new Map<string, LogLine[]>();
  const unattributed: LogLine[] = [];
  for (const [name, t] of Object.entries(servers)) {
    for (const line of t.server.logs) {
      const id = typeof line.requestId === "string" ? line.requestId : undefined;
      if (id) byRequest.set(`${name}:${id}`, [...(byRequest.get(`${name}:${id}`) ?? []), line]);
      else if (Number(line.level) >= 50) unattributed.push(line);
    }
  }
  for (const { index, server } of sent) {
    const c = fuzzCase(options.seed, index);
    const found = problems(c, tally.reply(index)!, byRequest.get(`${server}:fuzz-${index}`) ?? []);
    if (found.length > 0) tally.fail(c, found);
  }
  for (const line of unattributed) tally.fail("server log line without a request id", [JSON.stringify(line).slice(0, 400)]);

  for (const [name, t] of Object.entries(servers)) {
    const status = await servingStatus(t.session());
    if (status !== "SERVING") tally.fail(`health of the ${name} server after the fuzz`, [`Check("") answered ${status}`]);
  }
  for (const t of Object.values(servers)) {
    t.close();
    await t.server.close();
  }
  console.log(tally.report({ seed: options.seed, seconds: (Date.now() - started) / 1000 }));
  process.exit(tally.failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
