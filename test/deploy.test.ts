// The container image and Kubernetes manifests checked against the server
// they deploy: the port it listens on, the health service names it answers,
// the packages it imports. Neither Docker nor a cluster is needed; the
// probes' health checks are made against the real server.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.js";
import { PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { loadConfig } from "../src/config.js";
import { LIVENESS } from "../src/health/probe-services.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const K8S_DIR = "deploy/k8s";
/** listen()'s default closeGraceMs (src/transport/listen.ts): the server's drain on SIGTERM. */
const SERVER_DRAIN_SECONDS = 10;

// ---------------------------------------------------------------------------
// Kubernetes manifests

// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document read at any depth; the assertions check its shape
type Manifest = Record<string, any>;

interface ManifestFile {
  file: string;
  docs: Manifest[];
}

function parseYamlFile(path: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  if (!Array.isArray(docs)) return []; // an empty stream
  const out: Manifest[] = [];
  for (const doc of docs) {
    expect(doc.errors.map((e) => `${path}: ${e.message}`)).toEqual([]);
    expect(doc.warnings.map((e) => `${path}: ${e.message}`)).toEqual([]);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue; // "---" with nothing after it
    expect(typeof value, `${path}: a document must be a mapping`).toBe("object");
    out.push(value as Manifest);
  }
  return out;
}

const yamlFiles = readdirSync(K8S_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const files: ManifestFile[] = yamlFiles.map((file) => ({ file, docs: parseYamlFile(join(K8S_DIR, file)) }));
const kustomization = files.find((f) => f.file === "kustomization.yaml")?.docs[0];
const objects = files.filter((f) => f.file !== "kustomization.yaml").flatMap((f) => f.docs);

function only(kind: string, name?: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  expect(
    found.map((o) => o.metadata?.name),
    `exactly one ${kind}${name ? ` ${name}` : ""}`,
  ).toHaveLength(1);
  return found[0]!;
}

const deployment = only("Deployment");
const podSpec: Manifest = deployment.spec.template.spec;
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
const container: Manifest = podSpec.containers[0];
const services = objects.filter((o) => o.kind === "Service");
const clusterIpService = services.find((s) => s.spec.clusterIP !== "None");
const headlessService = services.find((s) => s.spec.clusterIP === "None");

function envValue(name: string): Manifest | undefined {
  return (container.env as Manifest[] | undefined)?.find((e) => e.name === name);
}

/** METRICS_PORT's default: the /metrics listener, off the API port. */
const DEFAULT_METRICS_PORT = 9464;

/** The /metrics port in this pod: METRICS_PORT from the pod's env, else the image's, else the default. */
function metricsPort(): number {
  const configured = envValue("METRICS_PORT")?.value ?? dockerEnv(finalStage(), "METRICS_PORT");
  return configured === undefined ? DEFAULT_METRICS_PORT : Number(configured);
}

/** The port the server will listen on in this pod: PORT from the pod's env, else the image's, else the default. */
function serverPort(): number {
  const fromPod = envValue("PORT")?.value as string | undefined;
  const fromImage = dockerEnv(finalStage(), "PORT");
  return loadConfig({ PORT: fromPod ?? fromImage }).port;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false; // an empty selector is a mistake here
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** A Kubernetes resource quantity in base units (cores, bytes). */
function quantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) throw new Error(`unsupported quantity "${q}"`);
  const factors: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  return Number(m[1]) * factors[m[2] ?? ""]!;
}

describe("deploy/k8s manifests", () => {
  it("parse, and every object has apiVersion, kind and metadata.name", () => {
    expect(yamlFiles).toContain("kustomization.yaml");
    expect(objects.length).toBeGreaterThanOrEqual(5);
    for (const o of objects) {
      expect(typeof o.apiVersion, JSON.stringify(o).slice(0, 80)).toBe("string");
      expect(typeof o.kind).toBe("string");
      expect(typeof o.metadata?.name, `${o.kind} without metadata.name`).toBe("string");
    }
    // Names are unique per kind.
    const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("the kustomization lists every manifest file, and only existing ones", () => {
    expect(kustomization?.kind).toBe("Kustomization");
    expect(kustomization?.apiVersion).toBe("kustomize.config.k8s.io/v1beta1");
    const listed = [...(kustomization!.resources as string[])].sort();
    expect(listed).toEqual(yamlFiles.filter((f) => f !== "kustomization.yaml"));
    // Every image the kustomization rewrites is one the Deployment uses.
    for (const image of (kustomization!.images ?? []) as Manifest[]) {
      expect(container.image.split(":")[0]).toBe(image.name);
    }
  });

  it("has a Deployment, two Services (one headless), an HPA and a PDB", () => {
    expect(deployment.apiVersion).toBe("apps/v1");
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(services).toHaveLength(2);
    expect(clusterIpService).toBeDefined();
    expect(headlessService).toBeDefined();
    expect(only("HorizontalPodAutoscaler").apiVersion).toBe("autoscaling/v2");
    expect(only("PodDisruptionBudget").apiVersion).toBe("policy/v1");
  });

  it("the Deployment's selector matches its own pod template", () => {
    expect(selects(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(deployment.spec.selector.matchExpressions).toBeUndefined();
  });

  it("the container port named grpc is the port the server listens on", () => {
    expect(loadConfig({}).port).toBe(8080);
    const port = serverPort();
    expect(port).toBe(8080);
    const ports = container.ports as Manifest[];
    const grpcPort = ports.find((p) => p.name === "grpc");
    expect(grpcPort).toMatchObject({ containerPort: port, protocol: "TCP" });
  });

  it("the container port named metrics is the /metrics port, apart from the API port", () => {
    const ports = container.ports as Manifest[];
    expect(ports.find((p) => p.name === "metrics")).toMatchObject({ containerPort: metricsPort(), protocol: "TCP" });
    expect(metricsPort()).toBe(DEFAULT_METRICS_PORT);
    expect(metricsPort()).not.toBe(serverPort());
    // Pod and image agree on it.
    expect(envValue("METRICS_PORT")?.value).toBe(dockerEnv(finalStage(), "METRICS_PORT"));
    // The API Services do not route to it.
    for (const svc of services) {
      for (const p of svc.spec.ports as Manifest[]) expect([p.port, p.targetPort], svc.metadata.name).not.toContain(metricsPort());
      expect((svc.spec.ports as Manifest[]).map((p) => p.targetPort)).not.toContain("metrics");
    }
  });

  it('probes are native gRPC health checks on that port: liveness and startup on "liveness", readiness on the PredictionService', () => {
    const port = serverPort();
    expect(Health.typeName).toBe("grpc.health.v1.Health");
    expect(PredictionService.typeName).toBe("prediction.v1.PredictionService");
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const p = container[probe] as Manifest | undefined;
      expect(p, probe).toBeDefined();
      expect(p!.grpc, `${probe} must be a grpc probe`).toBeDefined();
      // grpc probes take a port number (named ports are not supported there).
      expect(p!.grpc.port, probe).toBe(port);
      for (const other of ["httpGet", "tcpSocket", "exec"]) expect(p![other], `${probe}.${other}`).toBeUndefined();
    }
    expect(container.readinessProbe.grpc.service).toBe(PredictionService.typeName);
    // Liveness and startup ask whether the process works, never about models.
    expect(container.livenessProbe.grpc.service).toBe(LIVENESS);
    expect(container.startupProbe.grpc.service).toBe(LIVENESS);
  });

  it("gives the server time to drain on SIGTERM", () => {
    const preStop = container.lifecycle?.preStop;
    let preStopSeconds = 0;
    if (preStop?.exec) {
      const [cmd, arg] = preStop.exec.command as string[];
      expect(cmd).toBe("sleep");
      preStopSeconds = Number(arg);
    } else if (preStop?.sleep) {
      preStopSeconds = preStop.sleep.seconds;
    }
    expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + SERVER_DRAIN_SECONDS);
  });

  it("the Service and the headless Service select the pods and target the named port", () => {
    const grpcPort = (container.ports as Manifest[]).find((p) => p.name === "grpc")!;
    for (const svc of [clusterIpService!, headlessService!]) {
      expect(svc.apiVersion).toBe("v1");
      expect(selects(svc.spec.selector, podLabels), `${svc.metadata.name} selects the pods`).toBe(true);
      const port = (svc.spec.ports as Manifest[]).find((p) => p.name === "grpc");
      expect(port, `${svc.metadata.name} port grpc`).toBeDefined();
      expect([grpcPort.name, grpcPort.containerPort]).toContain(port!.targetPort);
      expect(port!.port).toBe(serverPort());
      expect(port!.appProtocol).toBe("kubernetes.io/h2c");
    }
    expect(clusterIpService!.spec.type ?? "ClusterIP").toBe("ClusterIP");
    expect(headlessService!.metadata.name).toBe("prediction-server-headless");
    expect(headlessService!.spec.publishNotReadyAddresses ?? false).toBe(false);
  });

  it("the HPA scales the Deployment on CPU", () => {
    const hpa = only("HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    expect(deployment.spec.replicas).toBe(hpa.spec.minReplicas);
    const cpu = (hpa.spec.metrics as Manifest[]).find((m) => m.type === "Resource" && m.resource.name === "cpu");
    expect(cpu?.resource.target.type).toBe("Utilization");
    expect(cpu?.resource.target.averageUtilization).toBeGreaterThan(0);
    expect(cpu?.resource.target.averageUtilization).toBeLessThanOrEqual(100);
    // Utilization is relative to the request: there has to be one.
    expect(container.resources.requests.cpu).toBeDefined();
  });

  it("the PDB selects the pods and leaves at least one running", () => {
    const pdb = only("PodDisruptionBudget");
    expect(selects(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    const { minAvailable, maxUnavailable } = pdb.spec;
    expect((minAvailable === undefined) !== (maxUnavailable === undefined)).toBe(true);
    if (maxUnavailable !== undefined) expect(maxUnavailable).toBeLessThan(only("HorizontalPodAutoscaler").spec.minReplicas);
    if (minAvailable !== undefined) expect(minAvailable).toBeGreaterThanOrEqual(1);
  });

  it("resource requests are at most the limits, one server process per pod, and INFERENCE_WORKERS fits the CPU limit", () => {
    const { requests, limits } = container.resources as { requests: Record<string, string>; limits: Record<string, string> };
    for (const r of ["cpu", "memory"]) {
      expect(requests[r], `requests.${r}`).toBeDefined();
      expect(limits[r], `limits.${r}`).toBeDefined();
      expect(quantity(requests[r]!), r).toBeLessThanOrEqual(quantity(limits[r]!));
    }
    // The server's own rule (src/config.ts), applied to the pod's CPU limit
    // instead of the node's CPUs: one core for the event loop, the rest for inference.
    const workers = Number(envValue("INFERENCE_WORKERS")?.value);
    expect(workers).toBe(Math.max(1, Math.ceil(quantity(limits.cpu!)) - 1));
    expect(loadConfig({ INFERENCE_WORKERS: String(workers) }).inferenceWorkers).toBe(workers);
    // One server process per pod, each sized as above (the memory figures are per process).
    expect(envValue("WORKERS")?.value).toBe("1");
    expect(loadConfig({ WORKERS: "1", INFERENCE_WORKERS: String(workers) }).workers).toBe(1);
  });

  it("runs as non-root, read-only, without privileges", () => {
    const pod = podSpec.securityContext ?? {};
    const ctr = container.securityContext ?? {};
    expect(ctr.runAsNonRoot ?? pod.runAsNonRoot).toBe(true);
    const uid = ctr.runAsUser ?? pod.runAsUser;
    if (uid !== undefined) expect(uid).not.toBe(0);
    expect(ctr.allowPrivilegeEscalation).toBe(false);
    expect(ctr.privileged ?? false).toBe(false);
    expect(ctr.capabilities?.drop).toContain("ALL");
    expect(ctr.capabilities?.add ?? []).toEqual([]);
    expect(ctr.readOnlyRootFilesystem).toBe(true);
    // The root filesystem is read-only; libraries that want scratch space get /tmp.
    const tmp = (container.volumeMounts as Manifest[]).find((m) => m.mountPath === "/tmp");
    const volume = (podSpec.volumes as Manifest[]).find((v) => v.name === tmp?.name);
    expect(volume?.emptyDir).toBeDefined();
    // The image's user agrees.
    const user = dockerUser(finalStage());
    expect(user).toBeDefined();
    if (uid !== undefined) expect(user!.split(":")[0]).toBe(String(uid));
  });

  it("reads the hashed key file from the Secret the example and README describe, mounted as a directory", () => {
    expect(envValue("API_KEYS")).toBeUndefined();
    const file = envValue("API_KEYS_FILE")?.value as string;
    expect(file).toMatch(/^\//);
    const dir = file.slice(0, file.lastIndexOf("/"));
    const mount = (container.volumeMounts as Manifest[]).find((m) => m.mountPath === dir);
    // subPath mounts never see a Secret's updates: a revocation would need a restart.
    expect(mount?.subPath).toBeUndefined();
    const volume = (podSpec.volumes as Manifest[]).find((v) => v.name === mount?.name);
    const name = volume?.secret?.secretName;
    expect(name).toBeDefined();
    // The non-root user reads the files through the pod's group.
    expect(podSpec.securityContext.fsGroup).toBe(podSpec.securityContext.runAsGroup);
    const [secret] = parseYamlFile("deploy/secret.example.yaml");
    expect(secret).toMatchObject({ apiVersion: "v1", kind: "Secret", metadata: { name } });
    expect(Object.keys({ ...secret!.stringData, ...secret!.data })).toContain(file.slice(dir.length + 1));
    expect(readFileSync("deploy/README.md", "utf8")).toMatch(new RegExp(`kubectl .*create secret generic ${name} `));
  });

  it("annotates the pods for Prometheus on the metrics port", () => {
    const a = deployment.spec.template.metadata.annotations as Record<string, string>;
    expect(a["prometheus.io/scrape"]).toBe("true");
    expect(Number(a["prometheus.io/port"])).toBe(metricsPort());
    expect(a["prometheus.io/path"]).toBe("/metrics");
  });

  it("spreads the pods across nodes or zones", () => {
    const spread = (podSpec.topologySpreadConstraints ?? []) as Manifest[];
    const anti = podSpec.affinity?.podAntiAffinity;
    expect(spread.length > 0 || anti !== undefined).toBe(true);
    for (const c of spread) expect(selects(c.labelSelector?.matchLabels, podLabels)).toBe(true);
  });
});

describe("the probes against the real server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  /** grpc.health.v1.Health/Check as the kubelet sends it: gRPC over plaintext HTTP/2, no credentials. */
  function check(service: string): Promise<ServingStatus> {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const method = Health.method.check;
    return new Promise<ServingStatus>((resolve, reject) => {
      client.makeUnaryRequest(
        `/${Health.typeName}/${method.name}`,
        (req: { service: string }) => Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, req))),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
        { service },
        new grpc.Metadata(),
        { deadline: Date.now() + 5_000 },
        (err, response) => (err ? reject(err) : resolve(response!.status)),
      );
    }).finally(() => client.close());
  }

  it("answers SERVING for the readiness probe's service and for the liveness/startup probes' \"liveness\"", async () => {
    const services = new Set<string>([
      container.readinessProbe.grpc.service ?? "",
      container.livenessProbe.grpc.service ?? "",
      container.startupProbe.grpc.service ?? "",
    ]);
    expect([...services].sort()).toEqual([LIVENESS, "prediction.v1.PredictionService"]);
    for (const service of services) {
      expect(await check(service), `Health/Check "${service}"`).toBe(ServingStatus.SERVING);
    }
  });

  it("answers NOT_FOUND for a service name it does not know (so a typo in a probe would fail loudly)", async () => {
    await expect(check("prediction.v1.PredictionServic")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("the Dockerfile's HEALTHCHECK command passes against it", async () => {
    const hc = finalStage().find((i) => i.keyword === "HEALTHCHECK");
    expect(hc).toBeDefined();
    const argv = JSON.parse(hc!.args.slice(hc!.args.indexOf("CMD") + 3).trim()) as string[];
    expect(argv[0]).toBe("node");
    const { stdout, stderr } = await promisify(execFile)(process.execPath, argv.slice(1), {
      env: { ...process.env, PORT: String(server.port) },
      timeout: 10_000,
    });
    expect(stdout + stderr).toBe("");
  });
});

// ---------------------------------------------------------------------------
// Dockerfile and .dockerignore

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("#")) continue; // comments and parser directives, also inside continuations
    if (line === "" && current === "") continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/s.exec(current.trim());
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
    current = "";
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync("Dockerfile", "utf8"));

function stages(): Instruction[][] {
  const result: Instruction[][] = [];
  for (const i of dockerfile) {
    if (i.keyword === "FROM") result.push([]);
    result.at(-1)?.push(i);
  }
  return result;
}

function finalStage(): Instruction[] {
  return stages().at(-1)!;
}

/** KEY=value pairs of ENV / ARG instructions (the "ENV KEY value" form too). */
function assignments(args: string): Map<string, string> {
  const map = new Map<string, string>();
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=\s].*)$/.exec(args);
  if (legacy && !legacy[1]!.includes("=")) {
    map.set(legacy[1]!, legacy[2]!.trim());
    return map;
  }
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
    map.set(m[1]!, (m[2] ?? "").replace(/^["']|["']$/g, ""));
  }
  return map;
}

function dockerEnv(stage: Instruction[], key: string): string | undefined {
  let value: string | undefined;
  for (const i of stage) if (i.keyword === "ENV" && assignments(i.args).has(key)) value = assignments(i.args).get(key);
  return value;
}

function dockerUser(stage: Instruction[]): string | undefined {
  return stage.filter((i) => i.keyword === "USER").at(-1)?.args;
}

/** The image a FROM names, with ARGs declared before the first FROM substituted. */
function baseImage(from: Instruction): string {
  const globals = new Map<string, string>();
  for (const i of dockerfile) {
    if (i.keyword === "FROM") break;
    if (i.keyword === "ARG") for (const [k, v] of assignments(i.args)) globals.set(k, v);
  }
  const image = from.args.split(/\s+/).filter((w) => !w.startsWith("--"))[0]!;
  return image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => globals.get(name) ?? "");
}

/** A .dockerignore decision for one path, as Docker makes it: last matching pattern wins, parents count. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const toRegExp = (pattern: string) => {
    let re = "";
    const p = pattern.replace(/^\/+|\/+$/g, "");
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!;
      if (c === "*" && p[i + 1] === "*") {
        const slash = p[i + 2] === "/";
        re += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else if (c === "*") re += "[^/]*";
      else if (c === "?") re += "[^/]";
      else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
    return new RegExp(`^${re}$`);
  };
  const parts = path.split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const line of patterns) {
    const negated = line.startsWith("!");
    const re = toRegExp(negated ? line.slice(1) : line);
    if (candidates.some((c) => re.test(c))) ignored = !negated;
  }
  return ignored;
}

const dockerignore = readFileSync(".dockerignore", "utf8")
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));

describe("Dockerfile", () => {
  it("is multi-stage, with a slim Node 20 runtime stage", () => {
    const froms = dockerfile.filter((i) => i.keyword === "FROM");
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(baseImage(froms.at(-1)!)).toMatch(/^node:20(\.[\d.]+)?-([a-z]+-)?slim(@sha256:[0-9a-f]{64})?$/);
    // Same base for building node_modules and for running them (native packages match).
    expect(new Set(froms.map(baseImage)).size).toBe(1);
  });

  it("installs production dependencies only, with onnxruntime-node's install script skipped", () => {
    const all = stages();
    const stage = all.find((s) => s.some((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args)));
    expect(stage, "a stage runs npm ci").toBeDefined();
    expect(stage).not.toBe(all.at(-1)); // not in the runtime stage
    const npmCiIndex = stage!.findIndex((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args));
    const run = stage![npmCiIndex]!.args;
    expect(run).toMatch(/npm ci\b[^&;|]*--omit=dev/);
    const skippedByEnv = stage!.slice(0, npmCiIndex).some((i) => i.keyword === "ENV" && assignments(i.args).get("ONNXRUNTIME_NODE_INSTALL") === "skip");
    const skippedInline = /ONNXRUNTIME_NODE_INSTALL=skip\s+npm ci/.test(run);
    expect(skippedByEnv || skippedInline).toBe(true);
    // The lockfile is what npm ci installs.
    const copiedBefore = stage!
      .slice(0, npmCiIndex)
      .filter((i) => i.keyword === "COPY")
      .map((i) => i.args)
      .join(" ");
    expect(copiedBefore).toContain("package-lock.json");
    expect(copiedBefore).toContain(".npmrc");
  });

  it("copies what the server needs at run time into the final stage", () => {
    const copies = finalStage()
      .filter((i) => i.keyword === "COPY")
      .map((i) => i.args);
    expect(copies.some((c) => /^--from=\S+\s+\S*node_modules\s/.test(c))).toBe(true);
    // The compiled server, built in the first stage from src/ and gen/.
    expect(copies.some((c) => /^--from=\S+\s+\S*dist\s/.test(c))).toBe(true);
    const firstStageRuns = dockerfile
      .filter((i) => i.keyword === "RUN")
      .map((i) => i.args)
      .join(" ");
    expect(firstStageRuns).toContain("scripts/build.mjs");
    for (const needed of ["models", "package.json"]) {
      expect(
        copies.some((c) =>
          c
            .split(/\s+/)
            .filter((w) => !w.startsWith("--"))
            .slice(0, -1)
            .includes(needed),
        ),
        needed,
      ).toBe(true);
    }
    // The server reads ./models by default, relative to WORKDIR.
    const workdir = finalStage()
      .filter((i) => i.keyword === "WORKDIR")
      .at(-1)?.args;
    expect(workdir).toBe("/app");
    expect(loadConfig({}).modelRepository).toBe("./models");
  });

  it("runs as a non-root user in the final stage", () => {
    const user = dockerUser(finalStage());
    expect(user).toBeDefined();
    const name = user!.split(":")[0]!;
    expect(["root", "0", ""]).not.toContain(name);
    // Numeric, so that Kubernetes' runAsNonRoot can verify it.
    expect(name).toMatch(/^[1-9][0-9]*$/);
  });

  it("exposes and configures the server's port and the metrics port", () => {
    const port = loadConfig({}).port;
    const exposed = finalStage()
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.args.split(/\s+/));
    expect(exposed.map((p) => Number(p.split("/")[0]))).toEqual([port, metricsPort()]);
    expect(loadConfig({ PORT: dockerEnv(finalStage(), "PORT") }).port).toBe(port);
    expect(dockerEnv(finalStage(), "NODE_ENV")).toBe("production");
    expect(finalStage().find((i) => i.keyword === "STOPSIGNAL")?.args ?? "SIGTERM").toBe("SIGTERM");
  });

  it("starts the compiled server with node itself, not npm (which would not forward SIGTERM)", () => {
    const cmd = finalStage()
      .filter((i) => i.keyword === "CMD")
      .at(-1);
    expect(cmd).toBeDefined();
    // Exec form: node is PID 1 and gets the signal, no shell in between.
    expect(JSON.parse(cmd!.args)).toEqual(["node", "dist/src/main.js"]);
    // The same command as `npm start`.
    expect(JSON.parse(readFileSync("package.json", "utf8")).scripts.start).toBe("node dist/src/main.js");
    expect(finalStage().some((i) => i.keyword === "ENTRYPOINT")).toBe(false);
    expect(
      dockerfile
        .filter((i) => i.keyword === "CMD" || i.keyword === "ENTRYPOINT")
        .map((i) => i.args)
        .join(" "),
    ).not.toMatch(/\bnpm\b/);
  });

  it(".dockerignore keeps local and test files out and lets every COPY source in", () => {
    for (const path of [
      "node_modules",
      "node_modules/sharp/package.json",
      ".git",
      ".git/HEAD",
      "test/deploy.test.ts",
      "bench/results/run.json",
      "README.md",
      "deploy/k8s/deployment.yaml",
      ".env",
    ]) {
      expect(dockerIgnored(dockerignore, path), path).toBe(true);
    }
    for (const path of [
      "package.json",
      "package-lock.json",
      ".npmrc",
      "scripts/build.mjs",
      "src/main.ts",
      "src/engine/inference-worker.mjs",
      "gen/prediction/v1/prediction_service_pb.ts",
      "models/shapes/2/model.onnx",
    ]) {
      expect(dockerIgnored(dockerignore, path), path).toBe(false);
    }
    const contextSources = dockerfile
      .filter((i) => i.keyword === "COPY" && !i.args.includes("--from="))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((w) => !w.startsWith("--"))
          .slice(0, -1),
      );
    expect(contextSources.length).toBeGreaterThan(0);
    for (const source of contextSources) expect(dockerIgnored(dockerignore, source), source).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// What `npm ci --omit=dev` leaves must be enough for src/ and gen/

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|mts|mjs|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

function runtimePackages(): Map<string, string> {
  const found = new Map<string, string>(); // package -> first file importing it
  for (const file of [...sourceFiles("src"), ...sourceFiles("gen")]) {
    const text = readFileSync(file, "utf8");
    const specifiers = [
      // Static imports and re-exports, except type-only ones (erased at run time).
      ...[...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']/gm)].map((m) => m[1]!),
      ...[...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!),
    ];
    for (const s of specifiers) {
      if (s.startsWith(".") || s.startsWith("node:") || s.startsWith("/")) continue;
      const name = s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!;
      if (!found.has(name)) found.set(name, file);
    }
  }
  return found;
}

describe("package.json dependencies for the image", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };

  it("lists every package src/ and gen/ import at run time under dependencies (npm ci --omit=dev)", () => {
    const packages = runtimePackages();
    expect(packages.size).toBeGreaterThan(3);
    const missing = [...packages].filter(([name]) => !pkg.dependencies?.[name]).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing).toEqual([]);
  });

  it("has esbuild, which the image's build step needs, under dependencies", () => {
    expect(pkg.dependencies?.esbuild).toBeDefined();
    expect(pkg.devDependencies?.esbuild).toBeUndefined();
  });
});
