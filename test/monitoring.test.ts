// The monitoring manifests (deploy/k8s/podmonitor.yaml,
// deploy/k8s/prometheus-rules.yaml) and the alert rules they carry
// (deploy/monitoring): they point at the pods' metrics port, the
// PrometheusRule holds exactly the rules promtool checks, promtool passes
// them and their unit tests, every alert has unit tests that fire it and
// that do not, and a runbook entry in deploy/README.md.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { loadConfig } from "../src/config.js";

// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document read at any depth; the assertions check its shape
type Manifest = Record<string, any>;

const RULES_FILE = "deploy/monitoring/prediction-server.rules.yaml";
const RULE_TESTS_DIR = "deploy/monitoring/tests";
const run = promisify(execFile);

function manifest(path: string): Manifest {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  expect(Array.isArray(docs) && docs.length).toBe(1);
  const [doc] = docs as ReturnType<typeof parse>[];
  expect(doc.errors).toEqual([]);
  return doc.toJS() as Manifest;
}

const deployment = manifest("deploy/k8s/deployment.yaml");
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
const container: Manifest = deployment.spec.template.spec.containers[0];
const podMonitor = manifest("deploy/k8s/podmonitor.yaml");
const prometheusRule = manifest("deploy/k8s/prometheus-rules.yaml");
const ruleGroups: Manifest[] = parse(readFileSync(RULES_FILE, "utf8")).groups;
const alerts: Manifest[] = ruleGroups.flatMap((g) => g.rules).filter((r) => r.alert);
const ruleTestFiles = readdirSync(RULE_TESTS_DIR)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => `${RULE_TESTS_DIR}/${f}`);
const job = podLabels[podMonitor.spec.jobLabel];
const metricsPortName: string = podMonitor.spec.podMetricsEndpoints[0].port;

/** The port the server serves /metrics on in the pod: METRICS_PORT from the pod's env, else the default. */
function serverMetricsPort(): number {
  const env = (container.env as Manifest[] | undefined)?.find((e) => e.name === "METRICS_PORT");
  return loadConfig({ METRICS_PORT: env?.value as string | undefined }).metricsPort;
}

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
}

describe("the PodMonitor", () => {
  it("selects the Deployment's pods and scrapes GET /metrics over HTTP on the port named metrics", () => {
    expect(podMonitor.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(podMonitor.kind).toBe("PodMonitor");
    const selector: Record<string, string> = podMonitor.spec.selector.matchLabels;
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(selector)) expect(podLabels[k], k).toBe(v);
    expect(podMonitor.spec.podMetricsEndpoints).toHaveLength(1);
    expect(podMonitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: "metrics", path: "/metrics", scheme: "http" });
    expect(job).toBe("prediction-server");
  });

  it("names the Deployment's container port that serves METRICS_PORT", () => {
    expect(serverMetricsPort()).toBe(9464);
    const port = (container.ports as Manifest[]).find((p) => p.name === metricsPortName);
    expect(port).toMatchObject({ containerPort: serverMetricsPort(), protocol: "TCP" });
  });
});

describe("the alert rules", () => {
  it("the PrometheusRule carries exactly the groups of the rules file (npm run generate:rules)", () => {
    expect(prometheusRule.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(prometheusRule.kind).toBe("PrometheusRule");
    expect(prometheusRule.spec.groups).toEqual(ruleGroups);
  });

  it("pass promtool check rules and promtool test rules", async () => {
    const check = await run("promtool", ["check", "rules", RULES_FILE]);
    expect(check.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(ruleTestFiles.length).toBeGreaterThan(0);
    const tests = await run("promtool", ["test", "rules", ...ruleTestFiles]);
    expect(tests.stdout).not.toContain("FAILED");
    expect(tests.stdout.match(/SUCCESS/g)).toHaveLength(ruleTestFiles.length);
  });

  it("promtool test rules fails a test whose alert should fire and does not (so a pass means something)", async () => {
    const doc = parse(readFileSync(`${RULE_TESTS_DIR}/model-not-ready.test.yaml`, "utf8"));
    doc.rule_files = [resolve(RULES_FILE)];
    for (const t of doc.tests as Manifest[]) for (const a of t.alert_rule_test as Manifest[]) a.exp_alerts = [];
    const dir = mkdtempSync(join(tmpdir(), "rule-test-"));
    try {
      writeFileSync(join(dir, "wrong.yaml"), stringify(doc));
      const result = await run("promtool", ["test", "rules", join(dir, "wrong.yaml")]).then(
        () => ({ code: 0, stdout: "", stderr: "" }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).toContain("FAILED");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every alert has a severity, a description and a runbook entry in deploy/README.md, and reads this job's series", () => {
    const readme = readFileSync("deploy/README.md", "utf8");
    const headings = [...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchor(m[1]!));
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    for (const rule of alerts) {
      expect(["warning", "critical"], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.description, rule.alert).toMatch(/\S{10}/);
      expect(rule.annotations?.runbook, rule.alert).toBe(`deploy/README.md#${rule.alert.toLowerCase()}`);
      expect(headings, `deploy/README.md has no heading ${rule.alert}`).toContain(rule.alert.toLowerCase());
      const selectors = [...String(rule.expr).matchAll(/[a-z_:]+\{([^}]*)\}/g)];
      expect(selectors.length, rule.alert).toBeGreaterThan(0);
      for (const s of selectors) expect(s[1], `${rule.alert}: ${s[0]}`).toContain(`job="${job}"`);
    }
  });

  it("every alert has unit tests that fire it and that do not", () => {
    const fires = new Set<string>();
    const quiet = new Set<string>();
    for (const file of ruleTestFiles) {
      const doc = parse(readFileSync(file, "utf8"));
      expect(doc.rule_files).toEqual(["../prediction-server.rules.yaml"]);
      for (const t of doc.tests as Manifest[]) {
        for (const a of (t.alert_rule_test ?? []) as Manifest[]) (a.exp_alerts?.length ? fires : quiet).add(a.alertname);
      }
    }
    const names = alerts.map((r) => r.alert as string).sort();
    expect([...fires].sort()).toEqual(names);
    expect([...quiet].sort()).toEqual(names);
  });
});
