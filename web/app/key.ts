// The API key lives in session storage: gone when the tab closes, never in a
// URL (URLs end up in history, logs and Referer headers).
const STORAGE_KEY = "prediction-server.api-key";

export function loadKey(): string {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? "";
  } catch {
    return ""; // storage disabled: the key lasts as long as the page
  }
}

export function saveKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: nothing to keep
  }
}
