// Batching at the tensor level: requests' inputs are stacked along the batch
// dimension (dim 0) into one run, and the run's outputs are cut back into
// each request's rows. Knows nothing about loans or images.

import type { TensorDataByType, TensorIO, TensorType } from "./session-types.js";

type TypedArray = TensorDataByType[TensorType];

/** Named tensors, as a session takes and gives them; dims[0] is the batch (rows). */
export type Tensors = Record<string, TensorIO>;

/** Stacks each named input of every part along dim 0. A single part is returned as is (no copy). */
export function stackRows(parts: readonly Tensors[]): Tensors {
  if (parts.length === 1) return parts[0];
  const out: Tensors = {};
  for (const name of Object.keys(parts[0])) {
    const first = parts[0][name];
    let rows = 0;
    let length = 0;
    for (const p of parts) {
      rows += p[name].dims[0];
      length += p[name].data.length;
    }
    const data = new (first.data.constructor as new (n: number) => TypedArray)(length);
    let offset = 0;
    for (const p of parts) {
      (data as Float32Array).set(p[name].data as Float32Array, offset);
      offset += p[name].data.length;
    }
    out[name] = withData(first, data, [rows, ...first.dims.slice(1)]);
  }
  return out;
}

/** Cuts every output into consecutive row ranges, one per part. Views, not copies. */
export function splitRows(outputs: Tensors, rowsPerPart: readonly number[]): Tensors[] {
  const parts: Tensors[] = rowsPerPart.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    const total = t.dims[0];
    const perRow = total === 0 ? 0 : t.data.length / total;
    let row = 0;
    rowsPerPart.forEach((rows, i) => {
      parts[i][name] = withData(t, t.data.subarray(row * perRow, (row + rows) * perRow), [rows, ...t.dims.slice(1)]);
      row += rows;
    });
  }
  return parts;
}

/** A zero-filled input for warm-up: each dynamic dimension becomes 1. */
export function zeroTensor(dtype: string, shape: readonly number[]): TensorIO {
  const dims = shape.map((d) => (d < 0 ? 1 : d));
  const n = dims.reduce((a, b) => a * b, 1);
  if (dtype === "int64") return { type: "int64", data: new BigInt64Array(n), dims };
  if (dtype === "int32") return { type: "int32", data: new Int32Array(n), dims };
  if (dtype === "uint8") return { type: "uint8", data: new Uint8Array(n), dims };
  if (dtype === "float32") return { type: "float32", data: new Float32Array(n), dims };
  // Any other dtype: float32 zeros under the config's own name, for onnxruntime
  // to take or refuse at warm-up; a config's dtype is a free string, so a cast.
  return { type: dtype, data: new Float32Array(n), dims } as TensorIO;
}

/**
 * `t` with other data of its own element type: a copy made with t.data's
 * constructor, or a view of t.data. A cast, because TypeScript cannot tie
 * `data` to `t.type` across the union once the array has been rebuilt.
 */
function withData(t: TensorIO, data: TypedArray, dims: number[]): TensorIO {
  return { type: t.type, data, dims } as TensorIO;
}
