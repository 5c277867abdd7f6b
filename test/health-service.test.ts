// The health service over a real HTTP/2 socket, called by two independent
// gRPC clients: @grpc/grpc-js (what most gRPC tooling behaves like) and
// Connect's own gRPC transport.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ConnectRouter } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { grpcJsServiceClient, startRouteServer } from "./support/route-server.js";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus, type HealthCheckResponse } from "../gen/grpc/health/v1/health_pb.js";
import { createHealthService } from "../src/health/health-service.js";
import { HealthStatus } from "../src/health/health-status.js";

const PREDICTION = "prediction.v1.PredictionService";

// Everything a test starts, closed after it whether it passed or not.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const startServer = (routes: (router: ConnectRouter) => void) => startRouteServer(routes, cleanups);

async function startHealthServer(status: HealthStatus): Promise<string> {
  return startServer((router) => router.service(Health, createHealthService(status)));
}

const grpcJsClient = (service: DescService, address: string) => grpcJsServiceClient(service, address, cleanups);

function connectClient(address: string) {
  // connect-node's gRPC transport always speaks HTTP/2; it takes no httpVersion.
  const transport = createGrpcTransport({ baseUrl: `http://${address}` });
  return createClient(Health, transport);
}

/** Polls until `condition` holds: server-side cleanup after a cancel is asynchronous. */
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The next message of a stream, failing instead of hanging if none comes. */
async function next<T>(iterator: AsyncIterator<T>, timeoutMs = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no message in time")), timeoutMs);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done) throw new Error("stream ended");
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

describe("HealthStatus", () => {
  it("reports the whole server SERVING by default and unknown services as undefined", () => {
    const status = new HealthStatus();
    expect(status.get("")).toBe(ServingStatus.SERVING);
    expect(status.get(PREDICTION)).toBeUndefined();
  });

  it("notifies only on an actual change, until unsubscribed", () => {
    const status = new HealthStatus();
    const seen: [string, ServingStatus][] = [];
    const unsubscribe = status.subscribe((service, s) => seen.push([service, s]));
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    status.set(PREDICTION, ServingStatus.SERVING);
    unsubscribe();
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    expect(seen).toEqual([
      [PREDICTION, ServingStatus.NOT_SERVING],
      [PREDICTION, ServingStatus.SERVING],
    ]);
    expect(status.listenerCount).toBe(0);
  });

  it("shutdown() sets everything NOT_SERVING and ignores later changes", () => {
    const status = new HealthStatus([
      ["", ServingStatus.SERVING],
      [PREDICTION, ServingStatus.SERVING],
    ]);
    status.shutdown();
    status.set("", ServingStatus.SERVING);
    expect(status.get("")).toBe(ServingStatus.NOT_SERVING);
    expect(status.get(PREDICTION)).toBe(ServingStatus.NOT_SERVING);
  });

  it("shutdown(keep) leaves the kept services as they are (liveness while draining)", () => {
    const status = new HealthStatus([
      ["", ServingStatus.SERVING],
      ["liveness", ServingStatus.SERVING],
    ]);
    status.shutdown(["liveness"]);
    expect(status.get("")).toBe(ServingStatus.NOT_SERVING);
    expect(status.get("liveness")).toBe(ServingStatus.SERVING);
  });
});

describe("Health.Check", () => {
  it("answers for the whole server and NOT_FOUND for an unknown service (grpc-js)", async () => {
    const client = grpcJsClient(Health, await startHealthServer(new HealthStatus()));
    const check = (service: string) =>
      new Promise<HealthCheckResponse>((resolve, reject) =>
        client.check({ service }, (err: grpc.ServiceError | null, res: HealthCheckResponse) => (err ? reject(err) : resolve(res))),
      );
    expect((await check("")).status).toBe(ServingStatus.SERVING);
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("answers for the whole server and NOT_FOUND for an unknown service (connect)", async () => {
    const status = new HealthStatus();
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    const client = connectClient(await startHealthServer(status));
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await client.check({ service: PREDICTION })).status).toBe(ServingStatus.NOT_SERVING);
    const err = await client.check({ service: "no.such.Service" }).catch((e) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
  });
});

describe("Health.Watch", () => {
  it("streams SERVING -> NOT_SERVING -> SERVING and releases its listener on cancel (grpc-js)", async () => {
    const status = new HealthStatus([[PREDICTION, ServingStatus.SERVING]]);
    const client = grpcJsClient(Health, await startHealthServer(status));
    const call: grpc.ClientReadableStream<HealthCheckResponse> = client.watch({ service: PREDICTION });
    call.on("error", () => {}); // the CANCELLED error after cancel() is expected
    const messages = call[Symbol.asyncIterator]() as AsyncIterator<HealthCheckResponse>;

    expect((await next(messages)).status).toBe(ServingStatus.SERVING);
    await waitFor(() => status.listenerCount === 1);
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    expect((await next(messages)).status).toBe(ServingStatus.NOT_SERVING);
    // Setting the same status again must not send a duplicate: the next
    // message is the following real change.
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    status.set(PREDICTION, ServingStatus.SERVING);
    expect((await next(messages)).status).toBe(ServingStatus.SERVING);

    call.cancel();
    await waitFor(() => status.listenerCount === 0);
  });

  it("sends SERVICE_UNKNOWN, stays open until the service appears, cleans up on abort (connect)", async () => {
    const status = new HealthStatus();
    const client = connectClient(await startHealthServer(status));
    const abort = new AbortController();
    const messages = client.watch({ service: PREDICTION }, { signal: abort.signal })[Symbol.asyncIterator]();

    expect((await next(messages)).status).toBe(ServingStatus.SERVICE_UNKNOWN);
    status.set(PREDICTION, ServingStatus.SERVING);
    expect((await next(messages)).status).toBe(ServingStatus.SERVING);
    status.set(PREDICTION, ServingStatus.NOT_SERVING);
    expect((await next(messages)).status).toBe(ServingStatus.NOT_SERVING);

    abort.abort();
    await expect(messages.next()).rejects.toMatchObject({ code: Code.Canceled });
    await waitFor(() => status.listenerCount === 0);
  });

  it("tells watchers NOT_SERVING on shutdown", async () => {
    const status = new HealthStatus();
    const client = connectClient(await startHealthServer(status));
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const messages = client.watch({ service: "" }, { signal: abort.signal })[Symbol.asyncIterator]();

    expect((await next(messages)).status).toBe(ServingStatus.SERVING);
    status.shutdown();
    expect((await next(messages)).status).toBe(ServingStatus.NOT_SERVING);
  });
});
