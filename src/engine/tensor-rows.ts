// Batching at the tensor level: requests' inputs are stacked along the batch
// dimension (dim 0) into one run, and the run's outputs are cut back into
// each request's rows. Knows nothing about loans or images.

export type TypedArray = Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array | BigInt64Array;

export interface Tensor {
  type: string;
  data: TypedArray;
  /** dims[0] is the batch (rows). */
  dims: number[];
}

export type Tensors = Record<string, Tensor>;

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
    out[name] = { type: first.type, data, dims: [rows, ...first.dims.slice(1)] };
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
      parts[i][name] = { type: t.type, data: t.data.subarray(row * perRow, (row + rows) * perRow) as TypedArray, dims: [rows, ...t.dims.slice(1)] };
      row += rows;
    });
  }
  return parts;
}

/** A zero-filled input for warm-up: each dynamic dimension becomes 1. */
export function zeroTensor(dtype: string, shape: readonly number[]): Tensor {
  const dims = shape.map((d) => (d < 0 ? 1 : d));
  const n = dims.reduce((a, b) => a * b, 1);
  const data = dtype === "int64" ? new BigInt64Array(n) : dtype === "int32" ? new Int32Array(n) : dtype === "uint8" ? new Uint8Array(n) : new Float32Array(n);
  return { type: dtype, data, dims };
}
