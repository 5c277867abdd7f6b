// A step of a traced call as a child span of the call's span; an untraced
// call runs the step with nothing added.
import { SpanStatusCode } from "@opentelemetry/api";
import type { TracedCall } from "../engine/traced-call.js";

export async function traced<T>(call: TracedCall | undefined, name: string, step: () => Promise<T>): Promise<T> {
  if (call === undefined) return step();
  const span = call.tracer.startSpan(name, undefined, call.context);
  try {
    return await step();
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    throw e;
  } finally {
    span.end();
  }
}
