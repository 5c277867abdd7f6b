// Shows each field's error next to its input (named by the field's proto
// name), linked for screen readers, and moves focus to the first one.
// Returns the errors of fields the form does not show, for the panel's status.
export function showFieldErrors(form: HTMLElement, errors: ReadonlyMap<string, string>): string[] {
  const shown = new Set<string>();
  let first: HTMLElement | undefined;
  for (const el of form.querySelectorAll<HTMLElement>("[data-error-for]")) {
    const name = el.dataset.errorFor!;
    const input = form.querySelector<HTMLElement>(`[name="${name}"]`);
    const message = errors.get(name) ?? "";
    el.textContent = message;
    el.hidden = message === "";
    if (message) shown.add(name);
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      if (message && !first) first = input;
    }
  }
  first?.focus();
  return [...errors].filter(([name]) => !shown.has(name)).map(([name, text]) => `${name}: ${text}`);
}
