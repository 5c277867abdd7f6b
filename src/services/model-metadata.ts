// ListModels and GetModelMetadata: the repository as clients see it, with
// what a client needs to use each model: its labels, reject rule, the request
// it answers and the values each field accepts, and the card's headline figures.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  GetModelMetadataResponseSchema,
  ListModelsResponseSchema,
  ModelVersionState,
  type GetModelMetadataResponse,
  type ListModelsResponse,
  type ModelSummary,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import type { ImageLimits } from "../config.js";
import type { VersionState } from "../engine/engine-observer.js";
import type { ImagePreprocessing } from "../engine/model-config.js";
import type { ModelEntry, ModelRepository } from "../engine/model-repository.js";
import { ACCEPTED_TYPES } from "../models/image-preprocess.js";
import { requestMessageOf } from "../models/task-requests.js";
import { inputFields } from "./input-fields.js";

/** The server's limits on every image, whatever the model. */
export type ImageInputLimits = Pick<ImageLimits, "maxBytes" | "maxPixels">;

const STATES: Record<VersionState, ModelVersionState> = {
  loading: ModelVersionState.LOADING,
  ready: ModelVersionState.READY,
  failed: ModelVersionState.FAILED,
  unloading: ModelVersionState.UNLOADING,
};

export function listModels(repo: ModelRepository, limits: ImageInputLimits): ListModelsResponse {
  const metadata = repo.list().map((m) => modelMetadata(repo, m, limits));
  // models[i] is metadata[i].model: each summary is made once.
  return create(ListModelsResponseSchema, { models: metadata.map((m) => m.model!), metadata });
}

export function getModelMetadata(repo: ModelRepository, name: string, limits: ImageInputLimits): GetModelMetadataResponse {
  const entry = repo.get(name);
  if (!entry) throw new ConnectError(`model ${name} is not in the repository`, Code.NotFound);
  return modelMetadata(repo, entry, limits);
}

function modelMetadata(repo: ModelRepository, entry: ModelEntry, limits: ImageInputLimits): GetModelMetadataResponse {
  const config = entry.config;
  const tensors = (list: NonNullable<typeof config>["inputs"] = []) =>
    list.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map((d) => BigInt(d)) }));
  const metrics = repo.defaultVersion(entry.name)?.metrics ?? {};
  const request = config ? requestMessageOf(config.task) : undefined;
  return create(GetModelMetadataResponseSchema, {
    model: summary(repo, entry),
    description: config?.description ?? "",
    inputs: tensors(config?.inputs),
    outputs: tensors(config?.outputs),
    metrics,
    labels: config?.labels ?? [],
    reject: config?.reject ? { label: config.reject.label ?? "", minScore: config.reject.min_score ?? 0 } : undefined,
    imageInput: imageInput(config?.preprocessing?.image, limits),
    requestMessage: request?.typeName ?? "",
    inputFields: request ? inputFields(request) : [],
    headlineMetrics: (config?.headline_metrics ?? []).filter((k) => Object.hasOwn(metrics, k)),
  });
}

/** The image the model sees, as its config makes it, and what the server accepts; undefined for non-image models. */
function imageInput(pre: ImagePreprocessing | undefined, limits: ImageInputLimits) {
  if (!pre) return undefined;
  return {
    width: pre.width,
    height: pre.height,
    resize: pre.resize,
    padRgb: pre.resize === "contain" ? (pre.pad_rgb ?? [0, 0, 0]) : [],
    contentTypes: Object.keys(ACCEPTED_TYPES),
    maxBytes: BigInt(limits.maxBytes),
    maxPixels: BigInt(limits.maxPixels),
  };
}

function summary(repo: ModelRepository, m: ModelEntry): ModelSummary {
  const versions = [...m.versions.values()].sort((a, b) => Number(b.version) - Number(a.version));
  return {
    $typeName: "prediction.v1.ModelSummary",
    name: m.name,
    task: m.config?.task ?? "",
    defaultVersion: repo.defaultVersion(m.name)?.version ?? "",
    versions: versions.map((v) => ({
      $typeName: "prediction.v1.ModelVersionStatus",
      version: v.version,
      state: STATES[v.state],
      error: v.error ?? "",
      updatedAt: timestampFromDate(v.updatedAt),
    })),
  };
}
