// Which request message each task answers: the one place a model's task
// (config.json "task") is tied to the fields a client sends it, so that
// GetModelMetadata can describe them from the contract's own rules.
import type { DescMessage } from "@bufbuild/protobuf";
import { ClassifyImageRequestSchema, PredictRequestSchema } from "../../gen/prediction/v1/prediction_service_pb.js";
import { LOAN_TASK } from "./loan-task.js";

export const IMAGE_TASK = "image_classification";

const REQUESTS: Readonly<Record<string, DescMessage>> = {
  [LOAN_TASK]: PredictRequestSchema,
  // PredictImage's ImageHeader carries the same fields as ClassifyImageRequest, with chunks for the bytes.
  [IMAGE_TASK]: ClassifyImageRequestSchema,
};

/** The request message a model of this task answers; undefined for a task the server has no request for. */
export function requestMessageOf(task: string): DescMessage | undefined {
  return Object.hasOwn(REQUESTS, task) ? REQUESTS[task] : undefined;
}
