// Raw Connect-protocol unary calls with fetch: exactly the bytes a curl user
// or a browser would send, so malformed bodies can be sent too.
import { create, toJsonString } from "@bufbuild/protobuf";
import { PredictRequestSchema } from "../../gen/prediction/v1/prediction_service_pb.js";
import { VALID } from "./applications.js";

export interface RawReply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined if it is not JSON. */
  json?: Record<string, unknown>;
}

export async function postRaw(baseUrl: string, path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<RawReply> {
  const res = await fetch(baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    // A copy typed over a plain ArrayBuffer, as fetch's BodyInit wants.
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const PREDICT_PATH = "/prediction.v1.PredictionService/Predict";
export const PREDICT_BATCH_PATH = "/prediction.v1.PredictionService/PredictBatch";
export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";

/** A valid Predict request in canonical protobuf JSON. */
export const VALID_JSON = toJsonString(PredictRequestSchema, create(PredictRequestSchema, VALID));

/** Connect JSON Predict with a valid application; the caller checks the reply. */
export function predictJson(baseUrl: string, headers: Record<string, string>, body: string = VALID_JSON): Promise<RawReply> {
  return postRaw(baseUrl, PREDICT_PATH, body, headers);
}

/**
 * True if the text looks like it carries a stack trace or source location:
 * "    at fn (file:line)" frames, or paths to .ts/.js files.
 */
export function looksLikeStackTrace(text: string): boolean {
  return /\bat\s+[\w$.<>]+\s+\(|\bat\s+(file:|node:|\/)|[\w-]+\.(ts|js|mjs|cjs):\d+|node_modules|\/work\/|\/onnxruntime_src\//.test(text);
}
