// Worker thread of the inference pool (see inference-pool.ts, which is the only
// intended user). Holds onnxruntime sessions and runs them, so the synchronous
// part of onnxruntime-node's session.run() blocks this thread, not the server's
// event loop.
//
// Plain ESM JavaScript on purpose: `new Worker(new URL("./inference-worker.mjs",
// import.meta.url))` then works under tsx, vitest and compiled JS alike, with no
// TypeScript loader in the worker. (A compiled build must copy this file next to
// inference-pool.js.)
//
// Protocol (messages from the pool):
//   { op: "load",    id, sessionId, path, options }  -> result: SessionInfo
//   { op: "run",     id, sessionId, feeds }          -> result: Record<name, TensorIO>
//   { op: "release", id, sessionId }                 -> result: null
//   { op: "crash",   id }                            test hook: throws outside any
//                                                     handler, killing this worker
// Replies: { id, ok: true, result } | { id, ok: false, error: { message } }.
// TensorIO is { type, data: TypedArray, dims: number[] }; output buffers are
// transferred back to the pool.
//
// Operations are processed strictly one at a time, in arrival order. Runs
// cannot overlap anyway (onnxruntime-node's run is synchronous), and ordering
// guarantees that a "release" sent after a "load" or "run" for the same session
// sees the session loaded and the run finished.
import { parentPort } from "node:worker_threads";
import { createSession, runSession } from "./ort-session.mjs";
import { transferable } from "./transferable.mjs";

if (!parentPort) {
  throw new Error("inference-worker.mjs must be started as a worker thread by the inference pool");
}
const port = parentPort;

/** @type {Map<number, import("onnxruntime-node").InferenceSession>} */
const sessions = new Map();

/** Tail of the sequential operation queue. */
let queue = Promise.resolve();
/** Set by the crash test hook: start nothing more (in particular no native run) while dying. */
let dying = false;

port.on("message", (message) => {
  if (message && message.op === "crash") {
    dying = true;
    // Outside the queue and outside any try/catch: an uncaught exception ends the worker.
    setImmediate(() => {
      throw new Error("inference worker crashed on request (test hook)");
    });
    return;
  }
  queue = queue.then(() => handle(message));
});

/** @param {any} message */
async function handle(message) {
  if (dying) return;
  const id = message?.id;
  try {
    switch (message?.op) {
      case "load":
        return reply(id, await load(message.sessionId, message.path, message.options));
      case "run":
        return reply(id, ...(await run(message.sessionId, message.feeds)));
      case "release":
        return reply(id, await release(message.sessionId));
      default:
        throw new Error(`unknown inference worker operation ${JSON.stringify(message?.op)}`);
    }
  } catch (err) {
    port.postMessage({ id, ok: false, error: { message: errorMessage(err) } });
  }
}

/**
 * @param {number} id
 * @param {unknown} result
 * @param {ArrayBuffer[]} [transfer]
 */
function reply(id, result, transfer = []) {
  const message = { id, ok: true, result };
  try {
    port.postMessage(message, transfer);
  } catch (err) {
    // A buffer that cannot be transferred (e.g. marked untransferable): copy instead.
    if (transfer.length > 0 && err instanceof Error && err.name === "DataCloneError") port.postMessage(message);
    else throw err;
  }
}

/** @param {unknown} err */
function errorMessage(err) {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * @param {number} sessionId
 * @param {string} path
 * @param {{ intraOpNumThreads?: number, interOpNumThreads?: number, graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all" } | undefined} options
 */
async function load(sessionId, path, options) {
  const { session, info } = await createSession(path, options);
  const previous = sessions.get(sessionId);
  sessions.set(sessionId, session);
  if (previous) await previous.release();
  return info;
}

/**
 * @param {number} sessionId
 * @param {Record<string, { type: any, data: any, dims: number[] }>} feeds
 * @returns {Promise<[Record<string, { type: string, data: unknown, dims: number[] }>, ArrayBuffer[]]>}
 */
async function run(sessionId, feeds) {
  const session = sessions.get(sessionId);
  if (!session) throw new Error(`session ${sessionId} is not loaded in this inference worker (released?)`);
  const { tensors, transfer } = transferable(await runSession(session, feeds));
  return [tensors, transfer];
}

/** @param {number} sessionId */
async function release(sessionId) {
  const session = sessions.get(sessionId);
  if (!session) return null;
  sessions.delete(sessionId);
  await session.release();
  return null;
}
