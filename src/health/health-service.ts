import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import type { HealthStatus } from "./health-status.js";

/**
 * The standard grpc.health.v1.Health service over a HealthStatus.
 * Register it with `router.service(Health, createHealthService(status))`.
 */
export function createHealthService(status: HealthStatus): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const current = status.get(request.service);
      // The health spec asks for NOT_FOUND, not SERVICE_UNKNOWN, from Check.
      if (current === undefined) {
        throw new ConnectError(`unknown service: "${request.service}"`, Code.NotFound);
      }
      return { status: current };
    },

    async *watch(request, context) {
      // context.signal aborts when the client cancels or the RPC ends, which
      // ends the iteration and releases the subscription.
      for await (const current of status.watch(request.service, context.signal)) {
        // Watch must stay open for an unknown service, since it may appear later.
        yield { status: current ?? ServingStatus.SERVICE_UNKNOWN };
      }
    },
  };
}
