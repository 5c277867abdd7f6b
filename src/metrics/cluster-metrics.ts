// WORKERS=n: node:cluster hands each connection to one process, so a
// Prometheus scrape reaches one of them at random; its counters alone would
// seem to jump back and forth between processes (rate() reads each drop as a
// reset). A process asked for /metrics therefore answers for all of them: it
// asks the primary, which collects every process's metrics with prom-client's
// AggregatorRegistry (counters and histograms summed, gauges by their
// `aggregator`) and hands the text back.
import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

const REQUEST = "prediction-server:metrics-request";
const RESPONSE = "prediction-server:metrics-response";
/** Longer than prom-client's own 5 s wait for the processes, so its error is the one reported. */
const TIMEOUT_MS = 8000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}

interface MetricsResponse {
  type: typeof RESPONSE;
  id: number;
  body?: string;
  error?: string;
}

/** In the primary: answers the server processes' requests for everyone's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, message: MetricsRequest | undefined) => {
    if (message?.type !== REQUEST) return;
    const answer = (r: Omit<MetricsResponse, "type" | "id">) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...r } satisfies MetricsResponse);
    };
    aggregator.clusterMetrics().then(
      (body) => answer({ body }),
      (e: unknown) => answer({ error: e instanceof Error ? e.message : String(e) }),
    );
  });
}

/**
 * In a server process under node:cluster: offers `registry` to the primary's
 * collections, and returns the function that fetches every process's
 * metrics, combined, through the primary.
 */
export function clusterMetricsClient(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs this process's answer to the primary's collection requests.
  new AggregatorRegistry();
  const waiting = new Map<number, { resolve(body: string): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  let nextId = 0;
  process.on("message", (message: MetricsResponse | undefined) => {
    if (message?.type !== RESPONSE) return;
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    clearTimeout(w.timer);
    if (message.body !== undefined) w.resolve(message.body);
    else w.reject(new Error(`collecting the server processes' metrics failed: ${message.error ?? "no answer"}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error("the primary process did not answer with the server processes' metrics"));
      }, TIMEOUT_MS);
      waiting.set(id, { resolve, reject, timer });
      process.send!({ type: REQUEST, id } satisfies MetricsRequest);
    });
}
