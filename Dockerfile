# syntax=docker/dockerfile:1
#
# prediction-server image. Build from the repository root:
#   docker build -t prediction-server:0.1.0 .
# See deploy/README.md for running it and for Kubernetes.
#
# Both stages use the same Debian (glibc) Node 20 base, so the platform
# packages npm picks in the first stage (sharp's @img/sharp-linux-*,
# esbuild's @esbuild/linux-*, onnxruntime-node's bundled linux binary) are the
# ones the runtime stage can load. Pin the base by digest for reproducible
# builds: --build-arg NODE_IMAGE=node:20-bookworm-slim@sha256:<digest>
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: production node_modules only -------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# onnxruntime-node's postinstall only downloads optional GPU (CUDA) binaries;
# the CPU binaries ship inside the npm package. .npmrc says the same, but npm
# is deprecating unknown keys in .npmrc, so the environment variable is the
# one to rely on.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# --omit=dev installs everything src/ and gen/ import, and esbuild, which
# compiles them to dist/ below. --ignore-scripts: no dependency install script
# is needed (sharp and esbuild ship their binaries as packages), and the
# project's own prepare (the same build) runs once the sources are copied.
# onnxruntime-node ships binaries for every OS and CPU (~290 MB); only this
# image's (Linux, this architecture) are kept: about 45 MB on x86_64.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && case "$(uname -m)" in \
      x86_64) ort_arch=x64 ;; \
      aarch64) ort_arch=arm64 ;; \
      *) echo "onnxruntime-node has no binary for $(uname -m)" >&2; exit 1 ;; \
    esac \
 && cd node_modules/onnxruntime-node/bin/napi-v6 \
 && rm -rf darwin win32 \
 && find linux -mindepth 1 -maxdepth 1 ! -name "$ort_arch" -exec rm -rf {} + \
 && test -f "linux/$ort_arch/onnxruntime_binding.node"

COPY scripts/build.mjs scripts/build-web.mjs ./scripts/
COPY gen ./gen
COPY src ./src
COPY web ./web
RUN node scripts/build.mjs

# ---- runtime ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# ORT_DISABLE_TELEMETRY: otherwise onnxruntime tries to persist a device id
# under ~/.cache and logs a warning on a read-only root filesystem.
ENV NODE_ENV=production \
    PORT=8080 \
    METRICS_PORT=9464 \
    ORT_DISABLE_TELEMETRY=1

# Files stay owned by root and read-only to the server's user: it writes
# nothing to disk (/tmp is writable for libraries that want it).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/dist ./dist
COPY package.json ./
COPY models ./models

# The official image's unprivileged "node" user, by number so that
# Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# The API (gRPC, gRPC-Web, Connect), then GET /metrics on its own listener.
EXPOSE 8080 9464
STOPSIGNAL SIGTERM

# For `docker run` / Compose only (Kubernetes uses its own gRPC probes): the
# standard health Check for "" (ready: the API's models are loaded, as
# Compose's service_healthy expects), over Connect JSON on HTTP/1.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/grpc.health.v1.Health/Check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.json()).then((b) => process.exit(b.status === 'SERVING' ? 0 : 1), () => process.exit(1))"]

# node directly, not npm: npm does not pass SIGTERM on to the server.
CMD ["node", "dist/src/main.js"]
