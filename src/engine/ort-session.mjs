// ONNX Runtime sessions as this server uses them, wherever they run: created
// with the model config's knobs, described as plain data, and run on plain
// tensors ({ type, data, dims }). The inference workers use this, and so does
// a model configured to run on the event loop (session.execution
// "event_loop"). Plain JavaScript, so that workers need no TypeScript loader.
import * as ort from "onnxruntime-node";

/**
 * @param {string} path
 * @param {{ intraOpNumThreads?: number, interOpNumThreads?: number, graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all" } | undefined} options
 */
export async function createSession(path, options) {
  /** @type {import("onnxruntime-node").InferenceSession.SessionOptions} */
  // Failures come back to the server as errors and are logged there, once;
  // onnxruntime's own stderr lines (with native source paths) would only repeat them.
  const sessionOptions = { logSeverityLevel: 4 };
  if (options?.intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
  if (options?.interOpNumThreads !== undefined) sessionOptions.interOpNumThreads = options.interOpNumThreads;
  if (options?.graphOptimizationLevel !== undefined) sessionOptions.graphOptimizationLevel = options.graphOptimizationLevel;
  const session = await ort.InferenceSession.create(path, sessionOptions);
  const info = {
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map(plainMetadata),
    outputMetadata: session.outputMetadata.map(plainMetadata),
  };
  return { session, info };
}

/** @param {import("onnxruntime-node").InferenceSession.ValueMetadata} m */
function plainMetadata(m) {
  return m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false };
}

/**
 * @param {import("onnxruntime-node").InferenceSession} session
 * @param {Record<string, { type: any, data: any, dims: number[] }>} feeds
 * @returns {Promise<Record<string, { type: string, data: any, dims: number[] }>>}
 */
export async function runSession(session, feeds) {
  /** @type {Record<string, import("onnxruntime-node").Tensor>} */
  const tensors = {};
  for (const [name, feed] of Object.entries(feeds)) {
    tensors[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
  }
  const outputs = await session.run(tensors);
  /** @type {Record<string, { type: string, data: any, dims: number[] }>} */
  const result = {};
  for (const [name, tensor] of Object.entries(outputs)) result[name] = { type: tensor.type, data: tensor.data, dims: [...tensor.dims] };
  return result;
}
