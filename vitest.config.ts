import { defineConfig } from "vitest/config";

// Tests start real servers on real sockets; give them room on a shared 2-core machine.
const common = { testTimeout: 30_000, hookTimeout: 60_000, pool: "forks" as const };
// ONNX Runtime's telemetry off for tests that make sessions with onnxruntime-node itself, as the engine does.
const env = { ORT_DISABLE_TELEMETRY: "1" };

// The protocol suites run twice: through the unary fast path (the default) and
// with it turned off, so both paths are held to the same behaviour.
const PROTOCOL_SUITES = [
  "test/protocols.test.ts",
  "test/validation.test.ts",
  "test/malformed.test.ts",
  "test/client-mistakes.test.ts",
  "test/json-numbers.test.ts",
  "test/errors.test.ts",
  "test/cross-language.test.ts",
  "test/cli-clients.test.ts",
  "test/classify-image.test.ts",
  "test/managed-keys.test.ts",
  "test/key-gate.test.ts",
  "test/keyless-uploads.test.ts",
  "test/key-whitespace.test.ts",
  "test/grpc-web-text.test.ts",
];

export default defineConfig({
  test: {
    projects: [
      { test: { ...common, name: "fast-path", include: ["test/**/*.test.ts"], env: { ...env, FAST_PATH: "1" } } },
      { test: { ...common, name: "connect-path", include: PROTOCOL_SUITES, env: { ...env, FAST_PATH: "0" } } },
    ],
  },
});
