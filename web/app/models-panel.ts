// The models panel: every model from ListModels, its default version, the
// state of each version, and the card's headline figures.
import { ModelVersionState, type GetModelMetadataResponse, type ModelSummary } from "../../gen/prediction/v1/prediction_service_pb.js";
import type { PredictionClient } from "./api.js";
import { byId, h, setStatus } from "./dom.js";
import { explain, type ShownError } from "./errors.js";

export interface ModelsPanelDeps {
  client(): PredictionClient;
  hasKey(): boolean;
  onError(error: ShownError): void;
  /** Every model's metadata from the same ListModels answer; none without a key or when the call fails. */
  onMetadata(metadata: readonly GetModelMetadataResponse[]): void;
}

const STATES: Record<ModelVersionState, [string, string]> = {
  [ModelVersionState.UNSPECIFIED]: ["unknown", "plain"],
  [ModelVersionState.LOADING]: ["loading", "busy"],
  [ModelVersionState.READY]: ["ready", "ok"],
  [ModelVersionState.FAILED]: ["failed", "no"],
  [ModelVersionState.UNLOADING]: ["unloading", "plain"],
};

/** Sets the panel up and returns its refresh function. */
export function setUpModelsPanel(deps: ModelsPanelDeps): () => Promise<void> {
  const status = byId("models-status");
  const body = byId("models-body");
  const table = byId("models-table");
  async function refresh(): Promise<void> {
    if (!deps.hasKey()) {
      table.hidden = true;
      deps.onMetadata([]);
      return setStatus(status, "info", "Enter your API key above to see the models.");
    }
    setStatus(status, "busy", "Loading models…");
    try {
      const { models, metadata } = await deps.client().listModels({});
      body.replaceChildren(...models.map((m, i) => row(m, metadata[i])));
      table.hidden = models.length === 0;
      setStatus(status, "info", models.length === 0 ? "The server has no models." : "");
      deps.onMetadata(metadata);
    } catch (reason) {
      const shown = explain(reason);
      table.hidden = true;
      deps.onMetadata([]);
      setStatus(status, "error", shown.message);
      deps.onError(shown);
    }
  }
  byId("models-refresh").addEventListener("click", () => void refresh());
  return refresh;
}

function row(m: ModelSummary, meta: GetModelMetadataResponse | undefined): HTMLElement {
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, m.name),
    h("td", {}, m.task.replace(/_/g, " ")),
    h("td", {}, m.defaultVersion || h("span", { class: "muted" }, "none ready")),
    h(
      "td",
      {},
      h(
        "ul",
        { class: "chips" },
        ...m.versions.map((v) => {
          const [text, kind] = STATES[v.state];
          return h("li", { class: `chip chip-${kind}`, title: v.error || "" }, `v${v.version} · ${text}`);
        }),
      ),
    ),
    h("td", {}, headline(meta)),
  );
}

/** The figures the model card puts first, e.g. "test accuracy 0.813"; a dash when it names none. */
function headline(meta: GetModelMetadataResponse | undefined): HTMLElement {
  const keys = meta?.headlineMetrics ?? [];
  if (keys.length === 0) return h("span", { class: "muted" }, "–");
  return h("ul", { class: "figures" }, ...keys.map((k) => h("li", {}, `${k.replace(/_/g, " ")} ${(meta?.metrics[k] ?? Number.NaN).toFixed(3)}`)));
}
