// Tensors made ready to post to another thread, for the inference pool (feeds
// to a worker) and the inference worker (outputs back) alike. Plain
// JavaScript, so that workers need no TypeScript loader.

/**
 * Copies of the tensor records, with the buffers to transfer. Whole buffers
 * are transferred (the sender's typed arrays become detached); a view into
 * part of a larger buffer (e.g. a slice of a Node Buffer pool) is copied
 * first, so unrelated memory is not detached; SharedArrayBuffer-backed data is
 * shared as is.
 *
 * @param {Record<string, { type: string, data: any, dims: number[] }>} tensors
 * @returns {{ tensors: Record<string, { type: string, data: any, dims: number[] }>, transfer: ArrayBuffer[] }}
 */
export function transferable(tensors) {
  /** @type {Record<string, { type: string, data: any, dims: number[] }>} */
  const out = {};
  /** @type {Set<ArrayBuffer>} */
  const transfer = new Set();
  for (const [name, tensor] of Object.entries(tensors)) {
    let data = tensor.data;
    if (ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer) {
      if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
      transfer.add(data.buffer);
    }
    out[name] = { type: tensor.type, data, dims: tensor.dims };
  }
  return { tensors: out, transfer: [...transfer] };
}
