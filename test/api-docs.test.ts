// The API reference at /docs in real Chromium: Swagger UI loads the
// generated /openapi.json from this server (no CDN), takes the API key under
// "Authorize", and its "Try it out" calls Predict for real.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, newPage, openBrowserFixture, screenshot, type BrowserFixture } from "./support/browser.js";
import { API_KEY } from "./support/test-server.js";

let fx: BrowserFixture;

beforeAll(async () => {
  fx = await openBrowserFixture({ CORS_ORIGINS: "" });
}, 120_000);
afterAll(() => fx?.close());

const PREDICT = "/prediction.v1.PredictionService/Predict";

describe("the API reference at /docs", () => {
  it("runs Predict from 'Try it out' with the key given under 'Authorize'", async () => {
    const { page, problems } = await newPage(fx.browser);
    const external: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(fx.server.baseUrl) && !r.url().startsWith("data:")) external.push(r.url());
    });
    await page.goto(`${fx.server.baseUrl}/docs`);
    const operation = page.locator(".opblock", { has: page.locator(`[data-path="${PREDICT}"]`) });
    await operation.waitFor();
    await screenshot(page, "docs");

    await page.click("button.authorize");
    await page.locator(".modal-ux input").first().fill(API_KEY);
    await page.locator(".modal-ux .auth-btn-wrapper button.authorize").first().click();
    await page.click(".modal-ux button.btn-done");

    await operation.locator(".opblock-summary").click();
    const body = operation.locator("textarea.body-param__text");
    await body.waitFor();
    // The example Swagger UI builds from the document (rules and examples from the contract) is a valid call as it stands.
    const example = JSON.parse(await body.inputValue());
    expect(example).toMatchObject({ age: 35, income: 85000, creditScore: 720, employmentYears: 5, loanAmount: 25000, modelVersion: "" });
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(PREDICT)), operation.locator("button.execute").click()]);
    expect(response.status(), await response.text()).toBe(200);
    expect(response.request().headers()["x-api-key"]).toBe(API_KEY);
    const answer = await response.json();
    expect(["DECISION_APPROVED", "DECISION_DENIED"]).toContain(answer.decision);
    // Swagger UI shows the answer.
    await eventually(() => operation.locator(".live-responses-table tbody .response-col_status").first().textContent()).toContain("200");
    await eventually(() => operation.locator(".live-responses-table tbody .response-col_description").first().textContent()).toContain(answer.decision);
    await screenshot(page, "docs-try-it");
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("declares the key and shows a rule's error with its BadRequest detail", async () => {
    const { page, problems } = await newPage(fx.browser);
    await page.goto(`${fx.server.baseUrl}/docs`);
    const operation = page.locator(".opblock", { has: page.locator(`[data-path="${PREDICT}"]`) });
    await operation.locator(".opblock-summary").click();
    const body = operation.locator("textarea.body-param__text");
    await body.fill(JSON.stringify({ age: 12, income: 1, creditScore: 700, employmentYears: 1, loanAmount: 1, loanPurpose: "LOAN_PURPOSE_CAR" }));
    const execute = async () => (await Promise.all([page.waitForResponse((r) => r.url().endsWith(PREDICT)), operation.locator("button.execute").click()]))[0];
    // No key given yet: the server says so.
    const noKey = await execute();
    expect(noKey.status()).toBe(401);
    expect((await noKey.json()).code).toBe("unauthenticated");

    await page.click("button.authorize");
    await page.locator(".modal-ux input").first().fill(API_KEY);
    await page.locator(".modal-ux .auth-btn-wrapper button.authorize").first().click();
    await page.click(".modal-ux button.btn-done");
    const invalid = await execute();
    expect(invalid.status()).toBe(400);
    const error = await invalid.json();
    expect(error.code).toBe("invalid_argument");
    expect(error.details[0].type).toBe("google.rpc.BadRequest");
    expect(error.details[0].debug.fieldViolations[0]).toMatchObject({ field: "age", reason: "GTE" });
    await eventually(() => operation.locator(".live-responses-table tbody .response-col_description").first().textContent()).toContain("google.rpc.BadRequest");
    await screenshot(page, "docs-invalid");
    expect(problems).toEqual([]);
  });
});
