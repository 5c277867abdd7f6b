// The README's examples under "Calling it" (curl, buf curl, grpc-js, the
// Python client) run as written against a live server, so they cannot
// drift: each sh block runs with the address and key swapped for this
// server's, must exit 0, and must print what its "# " lines show: every JSON
// key and enum value they name, and every plain line (e.g. grpc-js's) as is.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);

interface Example {
  /** The first command line, to name the test. */
  title: string;
  script: string;
  /** The "# " lines: what the commands print. */
  shown: string[];
}

/** The ```sh blocks between "## Calling it" and the next "## " section. */
function examples(readme: string): Example[] {
  const section = readme.split(/^## Calling it$/m)[1]!.split(/^## /m)[0]!;
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => {
    const lines = m[1]!.split("\n").filter((l) => l !== "");
    return {
      title: lines.find((l) => !l.startsWith("#"))!.trim(),
      script: lines.filter((l) => !l.startsWith("#")).join("\n"),
      shown: lines.filter((l) => l.startsWith("# ")).map((l) => l.slice(2)),
    };
  });
}

/** What the shown output promises: JSON keys and upper-case enum values by name, other lines whole. */
function promises(shown: string[]): string[] {
  const json = shown[0]?.trimStart().startsWith("{") ?? false;
  if (!json) return shown.map((l) => l.trim());
  const text = shown.join("\n");
  const keys = [...text.matchAll(/"(\w+)"\s*:/g)].map((k) => `"${k[1]}"`);
  const enums = [...text.matchAll(/"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"/g)].map((e) => e[1]!);
  return [...new Set([...keys, ...enums])];
}

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const EXAMPLES = examples(README);

let server: TestServer;
let scratch: string;
beforeAll(async () => {
  server = await startTestServer();
  scratch = mkdtempSync(join(tmpdir(), "readme-"));
});
afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

it("finds the curl, buf curl and grpc-js examples", () => {
  const all = EXAMPLES.map((e) => e.script).join("\n");
  expect(all).toContain("curl -s localhost:8080/prediction.v1.PredictionService/Predict");
  expect(all).toContain("npx buf curl --protocol grpc");
  expect(all).toContain("npx tsx examples/grpc-js-client.ts");
  expect(all).toContain("curl -s localhost:8080/readyz");
});

describe.each(EXAMPLES.map((e) => [e.title, e] as const))("README: %s", (_title, example) => {
  it("runs against a live server and prints what the README shows", async () => {
    const script = example.script
      .replaceAll("localhost:8080", `127.0.0.1:${server.port}`)
      .replaceAll("dev-key", API_KEY)
      .replaceAll("/tmp/", `${scratch}/`)
      // Debian's Python, which has grpcio and protobuf (as in cross-language.test.ts).
      .replace(/^python3 /gm, "/usr/bin/python3 ");
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd: process.cwd(), maxBuffer: 16 << 20 });
    for (const promised of promises(example.shown)) expect(stdout, `${promised} in the output of:\n${script}`).toContain(promised);
  }, 120_000);
});
