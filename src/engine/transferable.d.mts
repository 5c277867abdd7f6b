// Types of transferable.mjs (plain JavaScript, shared with the inference workers).
import type { TensorIO } from "./session-types.js";

export function transferable(tensors: Record<string, TensorIO>): { tensors: Record<string, TensorIO>; transfer: ArrayBuffer[] };
