// Real Chromium (Debian's /usr/bin/chromium, installed by .ci/run) driven by
// playwright-core, a freshly built page served by the real server, and a
// folder for the screenshots each test saves as an artifact.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect } from "vitest";
import { buildWeb } from "../../scripts/build-web.mjs";
import { startTestServer, type TestServer } from "./test-server.js";

export const CHROMIUM = "/usr/bin/chromium";
const HEADLESS_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];
/** Screenshots of each state, for a person to look at (gitignored). */
export const ARTIFACTS = "test-artifacts";

export interface BrowserFixture {
  server: TestServer;
  /** The built page, for another server to serve. */
  webRoot: string;
  browser: Browser;
  close(): Promise<void>;
}

/** Builds web/ into a temporary folder (this checkout's page, not a stale dist/), serves it, and opens Chromium. */
export async function openBrowserFixture(env: Record<string, string> = {}): Promise<BrowserFixture> {
  const webRoot = mkdtempSync(join(tmpdir(), "web-"));
  await buildWeb(webRoot);
  const server = await startTestServer(env, { webRoot });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: HEADLESS_ARGS });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    server,
    webRoot,
    browser,
    async close() {
      await browser.close();
      await server.close();
      rmSync(webRoot, { recursive: true, force: true });
    },
  };
}

/**
 * A new page in its own context (own session storage) that records script
 * errors and Content-Security-Policy violations. (Failed calls also log
 * console errors, and some tests fail calls on purpose: those are not kept.)
 */
export async function newPage(browser: Browser): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Well inside the test's own timeout, so a missing element fails with its selector named.
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  return { page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** expect.poll with room for a loaded machine (its default gives up after 1 s). */
export function eventually<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: 10_000 });
}
