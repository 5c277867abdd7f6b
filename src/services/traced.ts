// A step of a traced call as a child span of the call's span; an untraced
// call runs the step with nothing added.
import { epochMs, type TracedCall } from "../engine/traced-call.js";

export async function traced<T>(call: TracedCall | undefined, name: string, step: () => Promise<T>): Promise<T> {
  if (call === undefined) return step();
  const startTime = epochMs();
  let error: string | undefined;
  try {
    return await step();
  } catch (e) {
    error = (e as Error).message;
    throw e;
  } finally {
    call.record({ name, startTime, endTime: epochMs(), error });
  }
}
