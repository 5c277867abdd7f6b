// Types of ort-session.mjs (plain JavaScript, shared with the inference workers).
import type { InferenceSession } from "onnxruntime-node";
import type { SessionInfo, SessionOptionsLite, TensorIO } from "./session-types.js";

export function createSession(path: string, options?: SessionOptionsLite): Promise<{ session: InferenceSession; info: SessionInfo }>;
export function runSession(session: InferenceSession, feeds: Record<string, TensorIO>): Promise<Record<string, TensorIO>>;
