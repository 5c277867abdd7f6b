// The soak's traffic: unary calls from every protocol client (Predict and
// PredictBatch in turn) and PredictImage streams of a few images each, on
// long-lived connections, until told to stop. Every answer is counted by
// client and status code.
import { Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { codeName } from "../../src/policy/call-log.js";
import { applications } from "../../test/support/applications.js";
import { connectImageStream, drain, grpcJsImageStream, imageMessages, type ImageStream } from "../../test/support/image-streams.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "../../test/support/protocol-clients.js";

/** Counts by client, then by status code name. */
export class Outcomes {
  readonly byClient = new Map<string, Map<string, number>>();
  /** The model version each OK Predict was answered by, in order of change. */
  readonly versions: Array<{ version: string; atMs: number }> = [];
  /** Per label (e.g. " [revocable key]"): the last OK answer and the first UNAUTHENTICATED one, in ms from the start. */
  readonly lastOkMs = new Map<string, number>();
  readonly firstRefusedMs = new Map<string, number>();

  count(client: string, code: Code | 0, label = "", atMs?: number): void {
    const name = codeName(code);
    if (label && atMs !== undefined) {
      if (code === 0) this.lastOkMs.set(label, atMs);
      else if (code === Code.Unauthenticated && !this.firstRefusedMs.has(label)) this.firstRefusedMs.set(label, atMs);
    }
    let m = this.byClient.get(client);
    if (!m) {
      m = new Map();
      this.byClient.set(client, m);
    }
    m.set(name, (m.get(name) ?? 0) + 1);
  }

  sawVersion(version: string, atMs: number): void {
    if (this.versions.at(-1)?.version !== version) this.versions.push({ version, atMs });
  }

  total(filter: (code: string) => boolean = () => true): number {
    let n = 0;
    for (const m of this.byClient.values()) for (const [code, c] of m) if (filter(code)) n += c;
    return n;
  }
}

export interface LoadOptions {
  baseUrl: string;
  /** Key per worker, and the label its answers are counted under (e.g. " [revocable key]"). */
  keyFor(worker: number): { key: string; label: string };
  unaryWorkers: number;
  streamWorkers: number;
  images: Uint8Array[];
  startedAt: number;
  stopped(): boolean;
}

const BATCH = applications(10);

async function unaryWorker(client: ProtocolClient, worker: number, o: LoadOptions, out: Outcomes): Promise<void> {
  const { key, label } = o.keyFor(worker);
  const headers = { "x-api-key": key };
  for (let i = 0; !o.stopped(); i++) {
    if (i % 2 === 0) {
      const r = await client.predict(BATCH[i % BATCH.length]!, { headers });
      const at = Date.now() - o.startedAt;
      out.count(client.name + label, r.ok ? 0 : r.code, label, at);
      if (r.ok) out.sawVersion(r.message.modelVersion, at);
    } else {
      const r = await client.predictBatch({ inputs: BATCH }, { headers });
      out.count(client.name + label, r.ok ? 0 : r.code, label, Date.now() - o.startedAt);
    }
  }
}

/** One connection per worker, reused by every stream it opens. */
function streamOpener(kind: number, baseUrl: string): { name: string; open(headers: Record<string, string>): ImageStream; close(): void } {
  if (kind === 0) {
    const client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    return { name: "PredictImage grpc-js", open: (h) => grpcJsImageStream(client, h), close: () => client.close() };
  }
  const transport = kind === 1 ? createGrpcTransport({ baseUrl }) : createConnectTransport({ baseUrl, httpVersion: "2" });
  return { name: kind === 1 ? "PredictImage connect-node gRPC" : "PredictImage Connect (HTTP/2)", open: (h) => connectImageStream(transport, h), close() {} };
}

async function streamWorker(worker: number, o: LoadOptions, out: Outcomes): Promise<void> {
  const opener = streamOpener(worker % 3, o.baseUrl);
  const { key, label } = o.keyFor(o.unaryWorkers + worker);
  try {
    for (let n = 0; !o.stopped(); n++) {
      const stream = opener.open({ "x-api-key": key });
      const count = 1 + (n % 5);
      for (let i = 0; i < count; i++) stream.send(...imageMessages(`w${worker}-${n}-${i}`, o.images[(n + i) % o.images.length]!, { sizeBytes: true }));
      stream.end();
      const { answers, end } = await drain(stream);
      const at = Date.now() - o.startedAt;
      for (const a of answers) out.count(opener.name + label, a.result.case === "error" ? a.result.value.code : 0, label, at);
      if (end.code !== 0) out.count(`${opener.name}${label} (stream end)`, end.code, label, at);
    }
  } finally {
    opener.close();
  }
}

/** Runs the load until o.stopped(); resolves once every worker has finished its last call. */
export async function runLoad(o: LoadOptions, out: Outcomes): Promise<void> {
  const clients = PROTOCOL_CLIENTS.map((k) => k.make(o.baseUrl));
  try {
    await Promise.all([
      ...Array.from({ length: o.unaryWorkers }, (_, i) => unaryWorker(clients[i % clients.length]!, i, o, out)),
      ...Array.from({ length: o.streamWorkers }, (_, i) => streamWorker(i, o, out)),
    ]);
  } finally {
    for (const c of clients) c.close();
  }
}
