// Prometheus metrics for the server: RPCs, batched inference (queue time kept
// apart from compute time), model version states, and process metrics. Each
// instance owns its own Registry, so tests and embedded servers never share
// series through prom-client's global registry.
import { Counter, Gauge, Registry } from "prom-client";
import { VERSION_STATES, type VersionState, type VersionStateReport } from "../engine/engine-observer.js";
import { PROTOCOLS, type Protocol } from "../policy/call-context.js";
import { BucketHistogram } from "./bucket-histogram.js";
import { registerProcessMetrics } from "./process-metrics.js";

/**
 * The codes whose call counts exist at zero from the start (expectCalls): the
 * ones the error-ratio alert and dashboards read. Other codes appear at their
 * first call: every code for every key would multiply the series by 17.
 */
export const EXPECTED_CODES: readonly string[] = ["OK", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED"];

export interface CallObservation {
  /** Procedure path, e.g. "/prediction.v1.PredictionService/Predict". Keep it to routed procedures: it is a label. */
  method: string;
  protocol: Protocol;
  /** Status code name: "OK", "INVALID_ARGUMENT", ... */
  code: string;
  /** Name of the call's API key ("" for none): names come from the key file, so the label stays bounded. */
  key: string;
  seconds: number;
}

export interface BatchObservation {
  model: string;
  version: string;
  /** Rows in the executed batch. */
  rows: number;
  /** Time each request in the batch spent queued, one entry per request. */
  queueSeconds: number[];
  /** Time the execution itself took. */
  computeSeconds: number;
}

export interface ServerMetricsOptions {
  /** Register prom-client's default process metrics (CPU, memory, event loop lag, GC) in this registry. Default true. */
  collectProcessMetrics?: boolean;
}

// Whole RPCs: 0.5 ms .. 10 s.
const CALL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// Time waiting for a batch slot: from 50 µs, since an idle batcher dispatches almost at once.
const QUEUE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
// One model execution.
const COMPUTE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

type VersionLabels = "model" | "version";

interface VersionSeries {
  executions: { inc(v?: number): void };
  requests: { inc(v?: number): void };
  batchSize: { observe(v: number): void };
  queue: { observe(v: number): void };
  compute: { observe(v: number): void };
  depth: { set(v: number): void };
  /** Latest queue depth, handed to the gauge at scrape time (it changes on every call). */
  depthRows: number;
}

/** A call series: the count is kept in a plain field and added to the counter at scrape time. */
interface CallSeries {
  calls: { inc(v?: number): void };
  pendingCalls: number;
  duration: { observe(v: number): void };
}

export class ServerMetrics {
  readonly registry: Registry;

  // These run on every call: label lookups are resolved once per label set
  // and the child series kept (calls by method, then protocol, code, key name).
  private readonly callSeries = new Map<string, Map<string, Map<string, Map<string, CallSeries>>>>();
  private readonly versionSeries = new Map<string, VersionSeries>();

  private readonly calls: Counter<"method" | "protocol" | "code" | "key">;
  private readonly callDuration: BucketHistogram<"method" | "protocol">;
  private readonly queueDuration: BucketHistogram<VersionLabels>;
  private readonly computeDuration: BucketHistogram<VersionLabels>;
  private readonly batchSize: BucketHistogram<VersionLabels>;
  private readonly requests: Counter<VersionLabels>;
  private readonly executions: Counter<VersionLabels>;
  private readonly queueDepth: Gauge<VersionLabels>;
  private readonly versions: Gauge<"state">;
  private readonly versionState: Gauge<VersionLabels | "state">;
  private readonly loadFailures: Counter<VersionLabels>;
  private readonly shed: Counter<VersionLabels>;
  private readonly readyVersions: Gauge<"model">;

  /** Versions named by the last setModelStates call, keyed by versionKey(). */
  private knownVersions = new Map<string, { model: string; version: string }>();

  constructor(opts: ServerMetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];

    // Values that change on every call are kept in plain fields and handed to
    // prom-client when scraped: its label hashing on every update is not free.
    const callSeries = this.callSeries;
    const versionSeries = this.versionSeries;
    this.calls = new Counter({
      name: "rpc_server_calls_total",
      help: "Finished RPCs by procedure, protocol, status code and API key name.",
      labelNames: ["method", "protocol", "code", "key"],
      registers,
      collect() {
        for (const byProtocol of callSeries.values()) {
          for (const byCode of byProtocol.values()) {
            for (const byKey of byCode.values()) {
              for (const series of byKey.values()) {
                if (series.pendingCalls > 0) series.calls.inc(series.pendingCalls);
                series.pendingCalls = 0;
              }
            }
          }
        }
      },
    });
    this.callDuration = new BucketHistogram({
      name: "rpc_server_call_duration_seconds",
      help: "Duration of finished RPCs, from request start to the end of the response.",
      labelNames: ["method", "protocol"],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.queueDuration = new BucketHistogram({
      name: "inference_queue_duration_seconds",
      help: "Time each inference request waited in the batch queue before its batch started executing.",
      labelNames: ["model", "version"],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.computeDuration = new BucketHistogram({
      name: "inference_compute_duration_seconds",
      help: "Duration of each batched model execution, excluding queue time.",
      labelNames: ["model", "version"],
      buckets: COMPUTE_BUCKETS,
      registers,
    });
    this.batchSize = new BucketHistogram({
      name: "inference_batch_size",
      help: "Rows per batched model execution.",
      labelNames: ["model", "version"],
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.requests = new Counter({
      name: "inference_requests_total",
      help: "Rows inferred (summed batch sizes). Requests are counted by inference_queue_duration_seconds_count.",
      labelNames: ["model", "version"],
      registers,
    });
    this.executions = new Counter({
      name: "inference_executions_total",
      help: "Batched model executions.",
      labelNames: ["model", "version"],
      registers,
    });
    this.queueDepth = new Gauge({
      name: "inference_queue_depth",
      help: "Rows waiting in the batch queue.",
      labelNames: ["model", "version"],
      registers,
      collect() {
        for (const series of versionSeries.values()) series.depth.set(series.depthRows);
      },
    });
    // Every server process loads the same repository: with WORKERS=n these
    // are combined by their largest value, not summed (cluster-metrics.ts).
    this.versions = new Gauge({
      name: "model_versions",
      help: "Model versions in each state.",
      labelNames: ["state"],
      registers,
      aggregator: "max",
    });
    this.versionState = new Gauge({
      name: "model_version_state",
      help: "1 for the state a model version is in, 0 for the other states.",
      labelNames: ["model", "version", "state"],
      registers,
      aggregator: "max",
    });
    this.loadFailures = new Counter({
      name: "model_load_failures_total",
      help: "Failed model version loads.",
      labelNames: ["model", "version"],
      registers,
    });
    this.shed = new Counter({
      name: "inference_shed_total",
      help: "Inference requests refused because the batch queue was full.",
      labelNames: ["model", "version"],
      registers,
    });

    // Per model rather than per version: a required model with no version at all still has a series to alert on.
    // With WORKERS=n the smallest count counts: one process without the model cannot answer for it.
    this.readyVersions = new Gauge({
      name: "model_ready_versions",
      help: "Ready versions of each model the API needs (LOAN_MODEL and IMAGE_MODEL); health is NOT_SERVING while one has none.",
      labelNames: ["model"],
      registers,
      aggregator: "min",
    });

    for (const state of VERSION_STATES) this.versions.set({ state }, 0);

    if (opts.collectProcessMetrics ?? true) registerProcessMetrics(registry);
  }

  observeCall(c: CallObservation): void {
    // Nested maps rather than a joined key: no string is built per call.
    let byProtocol = this.callSeries.get(c.method);
    if (!byProtocol) {
      byProtocol = new Map();
      this.callSeries.set(c.method, byProtocol);
    }
    let byCode = byProtocol.get(c.protocol);
    if (!byCode) {
      byCode = new Map();
      byProtocol.set(c.protocol, byCode);
    }
    let byKey = byCode.get(c.code);
    if (!byKey) {
      byKey = new Map();
      byCode.set(c.code, byKey);
    }
    let series = byKey.get(c.key);
    if (!series) {
      series = this.newCallSeries(c.method, c.protocol, c.code, c.key);
      byKey.set(c.key, series);
    }
    series.pendingCalls++;
    const seconds = duration(c.seconds);
    if (seconds !== undefined) series.duration.observe(seconds);
  }

  private newCallSeries(method: string, protocol: string, code: string, key: string): CallSeries {
    const calls = this.calls.labels(method, protocol, code, key);
    // At zero from the start: rate() cannot count a series' first sample, and an absent one reads "no data".
    calls.inc(0);
    return { calls, pendingCalls: 0, duration: this.callDuration.labels({ method, protocol }) };
  }

  /**
   * Makes the call series of these methods exist at zero for every protocol,
   * every code in EXPECTED_CODES and every key name: call at start and when
   * the keys change, never per call. Series of keys that are gone stay (they
   * hold counts). Bounded: methods x 3 protocols x 4 codes per key name.
   */
  expectCalls(methods: readonly string[], keys: readonly string[]): void {
    for (const method of methods) {
      let byProtocol = this.callSeries.get(method);
      if (!byProtocol) {
        byProtocol = new Map();
        this.callSeries.set(method, byProtocol);
      }
      for (const protocol of PROTOCOLS) {
        let byCode = byProtocol.get(protocol);
        if (!byCode) {
          byCode = new Map();
          byProtocol.set(protocol, byCode);
        }
        for (const code of EXPECTED_CODES) {
          let byKey = byCode.get(code);
          if (!byKey) {
            byKey = new Map();
            byCode.set(code, byKey);
          }
          for (const key of keys) if (!byKey.has(key)) byKey.set(key, this.newCallSeries(method, protocol, code, key));
        }
      }
    }
  }

  /** Ready versions per required model, replacing the last report (a model not named drops out). */
  setReadyVersions(counts: ReadonlyMap<string, number>): void {
    this.readyVersions.reset();
    for (const [model, n] of counts) this.readyVersions.set({ model }, n);
  }

  private seriesFor(model: string, version: string): VersionSeries {
    const key = versionKey(model, version);
    let series = this.versionSeries.get(key);
    if (!series) {
      series = {
        executions: this.executions.labels(model, version),
        requests: this.requests.labels(model, version),
        batchSize: this.batchSize.labels({ model, version }),
        queue: this.queueDuration.labels({ model, version }),
        compute: this.computeDuration.labels({ model, version }),
        depth: this.queueDepth.labels(model, version),
        depthRows: 0,
      };
      // At zero from the start, like the call series.
      series.executions.inc(0);
      series.requests.inc(0);
      this.shed.inc({ model, version }, 0);
      this.versionSeries.set(key, series);
    }
    return series;
  }

  observeBatch(b: BatchObservation): void {
    const series = this.seriesFor(b.model, b.version);
    series.executions.inc();
    if (Number.isFinite(b.rows) && b.rows >= 0) {
      series.requests.inc(b.rows);
      series.batchSize.observe(b.rows);
    }
    for (const q of b.queueSeconds) {
      const seconds = duration(q);
      if (seconds !== undefined) series.queue.observe(seconds);
    }
    const compute = duration(b.computeSeconds);
    if (compute !== undefined) series.compute.observe(compute);
  }

  setQueueDepth(model: string, version: string, rows: number): void {
    if (!Number.isFinite(rows)) return;
    this.seriesFor(model, version).depthRows = Math.max(0, rows);
  }

  setModelStates(states: VersionStateReport[]): void {
    // Last entry wins if a version is listed twice.
    const current = new Map<string, VersionStateReport>();
    for (const s of states) current.set(versionKey(s.model, s.version), s);

    this.versionState.reset();
    const counts = new Map<VersionState, number>(VERSION_STATES.map((state) => [state, 0]));
    for (const { model, version, state } of current.values()) {
      for (const candidate of VERSION_STATES) {
        this.versionState.set({ model, version, state: candidate }, candidate === state ? 1 : 0);
      }
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    for (const [state, n] of counts) this.versions.set({ state }, n);

    // Every version known exists at zero in the load failure count; a ready
    // one in the inference series too (a version gets them once, here, not per call).
    for (const { model, version, state } of current.values()) {
      this.loadFailures.inc({ model, version }, 0);
      if (state === "ready") this.seriesFor(model, version);
    }

    // A version that is gone drops out of every per-version series: the
    // series stay bounded by the versions on disk, and no gauge freezes at its last value.
    for (const [key, { model, version }] of this.knownVersions) {
      if (!current.has(key)) {
        const labels = { model, version };
        for (const metric of [this.queueDepth, this.executions, this.requests, this.shed, this.loadFailures]) metric.remove(labels);
        for (const histogram of [this.queueDuration, this.computeDuration, this.batchSize]) histogram.remove(labels);
        this.versionSeries.delete(key);
      }
    }
    this.knownVersions = new Map([...current].map(([key, { model, version }]) => [key, { model, version }]));
  }

  countLoadFailure(model: string, version: string): void {
    this.loadFailures.inc({ model, version });
  }

  /** Reports a live count at every scrape, e.g. open image streams. */
  gaugeFrom(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  countShed(model: string, version: string): void {
    this.shed.inc({ model, version });
  }

  /** Where render() gets the text when this is one of several server processes (cluster-metrics.ts). */
  private combined: (() => Promise<string>) | undefined;

  /** Renders every server process's metrics, combined, through `fetch` instead of this process's alone. */
  combineWith(fetch: () => Promise<string>): void {
    this.combined = fetch;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    const body = await (this.combined ? this.combined() : this.registry.metrics());
    return { contentType: this.registry.contentType, body };
  }
}

function versionKey(model: string, version: string): string {
  return `${model}\u0000${version}`;
}

/** A duration fit to observe, or undefined to skip: metrics must never throw into the request path. */
function duration(seconds: number): number | undefined {
  return Number.isFinite(seconds) ? Math.max(0, seconds) : undefined;
}
