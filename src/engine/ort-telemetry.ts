// Recent Linux builds of ONNX Runtime send usage events to Microsoft by
// default (model file names, producers and hashes, the CPU), and keep a device
// id under ~/.cache/Microsoft and a log in /tmp. A server a platform team
// deploys makes no calls nobody configured: off unless the operator says so.

/**
 * Sets ORT_DISABLE_TELEMETRY=1 in the process environment unless it is set.
 * ONNX Runtime reads it once, when the first session is made in the process;
 * so the engine calls this on the main thread before it makes a session or an
 * inference worker (a worker's process.env is its own copy, not the process
 * environment), as must any script that makes sessions itself.
 */
export function keepOrtTelemetryOff(): void {
  if (!process.env.ORT_DISABLE_TELEMETRY) process.env.ORT_DISABLE_TELEMETRY = "1";
}
