// prom-client's default process metrics (CPU, memory, event loop lag, GC,
// handles), minus the three it names like counters but types as gauges.
import { collectDefaultMetrics, type Registry } from "prom-client";

/**
 * Dropped: gauges whose `_total` suffix promtool's lint rejects (it is for
 * counters only). Nothing is lost: each equals the sum of its per-type
 * gauge, e.g. sum(nodejs_active_handles) for nodejs_active_handles_total.
 */
export const DROPPED_DEFAULT_METRICS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"] as const;

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
}
