// A model session that runs on the event loop instead of in an inference
// worker, for models whose whole run takes microseconds (the loan model's
// logistic regression): the hop to a worker thread and back then costs more
// than the run itself (~250 µs of CPU per call measured at one call in
// flight). ServedVersion moves a model whose run at its largest batch is not
// short (EVENT_LOOP_MAX_RUN_MS) to a worker instead, since a run here blocks
// every other call while it lasts.
import type { ModelSession, SessionOptionsLite } from "./session-types.js";
import { createSession, runSession } from "./ort-session.mjs";
import { keepOrtTelemetryOff } from "./ort-telemetry.js";

/** Longest a model's run at max_batch_size rows may take for it to run on the event loop, in ms. */
export const EVENT_LOOP_MAX_RUN_MS = 5;

export async function loadOnEventLoop(modelPath: string, options?: SessionOptionsLite): Promise<ModelSession> {
  keepOrtTelemetryOff();
  const { session, info } = await createSession(modelPath, options);
  let released = false;
  return {
    info,
    run: (feeds) => {
      if (released) return Promise.reject(new Error(`model ${modelPath} has been released`));
      return runSession(session, feeds);
    },
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
