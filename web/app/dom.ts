// Small DOM helpers: find an element the page must have, build elements.
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) el.setAttribute(name, value);
  for (const child of children) if (child) el.append(child);
  return el;
}

/** A status line: kind sets its colour; empty text hides it. */
export function setStatus(el: HTMLElement, kind: "info" | "error" | "busy" | "ok", text: string): void {
  el.dataset.kind = kind;
  el.textContent = text;
  el.hidden = text === "";
}

/** Width of a bar as a class-free inline size (CSSOM, allowed by the CSP). */
export function bar(fraction: number, kind: string): HTMLElement {
  const outer = h("span", { class: `bar bar-${kind}` });
  const inner = h("span", { class: "bar-fill" });
  inner.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  outer.append(inner);
  return outer;
}
