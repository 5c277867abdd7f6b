// The image panel: drop, pick or draw an image, send it whole with
// ClassifyImage, and show the top labels as bars.
import type { ClassifyImageResponse } from "../../gen/prediction/v1/prediction_service_pb.js";
import type { PredictionClient } from "./api.js";
import { bar, byId, h, setStatus } from "./dom.js";
import { explain, type ShownError } from "./errors.js";
import { setUpSketch } from "./sketch.js";

export interface ImagePanelDeps {
  client(): PredictionClient;
  transportLabel(): string;
  requireKey(): boolean;
  onError(error: ShownError): void;
}

const TOP_K = 5;

export function setUpImagePanel(deps: ImagePanelDeps): void {
  const drop = byId("image-drop");
  const input = byId<HTMLInputElement>("image-file");
  const preview = byId<HTMLImageElement>("image-preview");
  const status = byId("image-status");
  const result = byId("image-result");
  let previewUrl: string | undefined;
  // A file the browser cannot show either gets no broken-image box; the status line says why.
  preview.addEventListener("error", () => (preview.hidden = true));

  async function classify(blob: Blob, name: string): Promise<void> {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    preview.src = previewUrl;
    preview.alt = `The image sent: ${name}`;
    preview.hidden = false;
    byId("image-empty").hidden = true;
    if (!deps.requireKey()) return setStatus(status, "error", "Enter your API key above first.");
    setStatus(status, "busy", `Classifying ${name}…`);
    result.setAttribute("aria-busy", "true");
    try {
      const image = new Uint8Array(await blob.arrayBuffer());
      const response = await deps.client().classifyImage({ image, contentType: blob.type, topK: TOP_K });
      setStatus(status, "ok", "");
      result.replaceChildren(renderLabels(response, deps.transportLabel()));
      result.hidden = false;
    } catch (reason) {
      const shown = explain(reason);
      // The panel has no inputs to mark: a field's error is said in the status line.
      const fields = [...shown.fields].map(([field, text]) => `${field} ${text}`);
      setStatus(status, "error", fields.length > 0 ? `The server refused the request: ${fields.join("; ")}.` : shown.message);
      result.hidden = true;
      deps.onError(shown);
    } finally {
      result.removeAttribute("aria-busy");
    }
  }

  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (file) void classify(file, file.name);
    input.value = "";
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("dragging");
    const file = e.dataTransfer?.files[0];
    if (file) void classify(file, file.name);
  });
  setUpSketch((blob) => classify(blob, "your drawing"));
}

function renderLabels(r: ClassifyImageResponse, via: string): HTMLElement {
  const c = r.classification;
  if (!c) return h("p", {}, "The server sent no labels.");
  return h(
    "div",
    {},
    h(
      "ol",
      { class: "labels" },
      ...c.labels.map((l, i) =>
        h(
          "li",
          { class: i === 0 ? "top" : "" },
          h("span", { class: "label-name", "data-testid": i === 0 ? "top-label" : undefined }, l.label),
          bar(l.score, i === 0 ? "ok" : "plain"),
          h("span", { class: "label-score" }, `${(l.score * 100).toFixed(1)}%`),
        ),
      ),
    ),
    h("p", { class: "meta" }, `${c.modelName} v${c.modelVersion} · via ${via}`),
  );
}
