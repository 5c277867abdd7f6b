// The page: the API key, the transport switch, and the three panels.
import "./styles.css";
import { createClients, TRANSPORT_LABELS, type TransportName } from "./api.js";
import { byId, setStatus } from "./dom.js";
import type { ShownError } from "./errors.js";
import { setUpImagePanel } from "./image-panel.js";
import { loadKey, saveKey } from "./key.js";
import { setUpLoanForm } from "./loan-form.js";
import { setUpModelsPanel } from "./models-panel.js";

let apiKey = loadKey();
let transport: TransportName = "connect";
const clients = createClients(() => apiKey);

const keyForm = byId<HTMLFormElement>("key-form");
const keyInput = byId<HTMLInputElement>("api-key");
const keyStatus = byId("key-status");
keyInput.value = apiKey;

function showKeyState(problem?: "missing" | "refused"): void {
  if (problem) keyInput.setAttribute("aria-invalid", "true");
  else keyInput.removeAttribute("aria-invalid");
  if (problem === "missing") setStatus(keyStatus, "error", "An API key is needed: enter it here and press Save.");
  else if (problem === "refused") setStatus(keyStatus, "error", "The server refused this key. Check it and save it again.");
  else if (apiKey) setStatus(keyStatus, "ok", "Key saved for this tab.");
  else setStatus(keyStatus, "info", "No key yet. It stays in this tab's session storage, never in a URL.");
}

const requireKey = () => {
  if (apiKey) return true;
  showKeyState("missing");
  keyInput.focus();
  return false;
};
const onError = (e: ShownError) => {
  if (e.keyProblem) showKeyState(apiKey ? "refused" : "missing");
};
const deps = { client: () => clients[transport], transportLabel: () => TRANSPORT_LABELS[transport], requireKey, hasKey: () => Boolean(apiKey), onError };

const showLoanRules = setUpLoanForm(deps);
setUpImagePanel(deps);
const refreshModels = setUpModelsPanel({ ...deps, onMetadata: showLoanRules });

keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  apiKey = keyInput.value.trim();
  saveKey(apiKey);
  showKeyState(apiKey ? undefined : "missing");
  void refreshModels();
});
byId("key-forget").addEventListener("click", () => {
  apiKey = "";
  keyInput.value = "";
  saveKey("");
  showKeyState();
  void refreshModels();
  keyInput.focus();
});

for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=transport]")) {
  radio.checked = radio.value === transport;
  radio.addEventListener("change", () => {
    if (radio.checked && radio.value in TRANSPORT_LABELS) transport = radio.value as TransportName;
  });
}

showKeyState();
void refreshModels();
