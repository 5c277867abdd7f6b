// The tensors and sessions the engine passes around, wherever a session runs
// (an inference worker or the event loop): plain data, so they cross threads.
// Kept apart from inference-pool.ts so users of a session need not import the pool.
export type TensorType = "float32" | "float64" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64" | "bool" | "float16";

/** Typed array backing each tensor type (as onnxruntime-node uses them; float16 as raw Uint16Array bits). */
export interface TensorDataByType {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  float16: Uint16Array;
}

/** A tensor crossing the thread boundary: element type, flat row-major data and shape. */
export type TensorIO = { [T in TensorType]: { type: T; data: TensorDataByType[T]; dims: number[] } }[TensorType];

export interface SessionOptionsLite {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
}

/** Input/output metadata as onnxruntime 1.30 reports it; symbolic dimensions are strings. */
export type ValueMetadata = { name: string; isTensor: true; type: string; shape: Array<number | string> } | { name: string; isTensor: false };

export interface SessionInfo {
  inputNames: string[];
  outputNames: string[];
  inputMetadata: ValueMetadata[];
  outputMetadata: ValueMetadata[];
}

/** What a served model version needs of its session, wherever the session runs (pool or event loop). */
export interface ModelSession {
  readonly info: SessionInfo;
  /** In a worker, input buffers are transferred (not copied) to it and output buffers transferred back. */
  run(feeds: Record<string, TensorIO>): Promise<Record<string, TensorIO>>;
  /** Releases the session; later run() calls reject. Idempotent. */
  release(): Promise<void>;
}
