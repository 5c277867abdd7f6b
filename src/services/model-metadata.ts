// ListModels and GetModelMetadata: the repository as clients see it.
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
import type { VersionState } from "../engine/engine-observer.js";
import type { ImagePreprocessing } from "../engine/model-config.js";
import type { ModelEntry, ModelRepository } from "../engine/model-repository.js";

const STATES: Record<VersionState, ModelVersionState> = {
  loading: ModelVersionState.LOADING,
  ready: ModelVersionState.READY,
  failed: ModelVersionState.FAILED,
  unloading: ModelVersionState.UNLOADING,
};

export function listModels(repo: ModelRepository): ListModelsResponse {
  return create(ListModelsResponseSchema, { models: repo.list().map((m) => summary(repo, m)) });
}

export function getModelMetadata(repo: ModelRepository, name: string): GetModelMetadataResponse {
  const entry = repo.get(name);
  if (!entry) throw new ConnectError(`model ${name} is not in the repository`, Code.NotFound);
  const config = entry.config;
  const tensors = (list: NonNullable<typeof config>["inputs"] = []) =>
    list.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map((d) => BigInt(d)) }));
  return create(GetModelMetadataResponseSchema, {
    model: summary(repo, entry),
    description: config?.description ?? "",
    inputs: tensors(config?.inputs),
    outputs: tensors(config?.outputs),
    metrics: repo.defaultVersion(name)?.metrics ?? {},
    labels: config?.labels ?? [],
    reject: config?.reject ? { label: config.reject.label ?? "", minScore: config.reject.min_score ?? 0 } : undefined,
    imageInput: imageInput(config?.preprocessing?.image),
  });
}

/** The image the model sees, as its config makes it; undefined for non-image models. */
function imageInput(pre: ImagePreprocessing | undefined) {
  if (!pre) return undefined;
  return { width: pre.width, height: pre.height, resize: pre.resize, padRgb: pre.resize === "contain" ? (pre.pad_rgb ?? [0, 0, 0]) : [] };
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
