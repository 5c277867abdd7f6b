// The web page at / in real Chromium against the real server: the loan form
// over both transports (same decision as a gRPC client), a validation error
// at its field, each field's range from the model's metadata, an image
// classified, the models listed, and a clear message without a key or with a
// wrong one. Screenshots go to test-artifacts/.
import { create } from "@bufbuild/protobuf";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Decision,
  GetModelMetadataRequestSchema,
  type InputField,
  LoanPurpose,
  PredictionService,
  PredictRequestSchema,
} from "../gen/prediction/v1/prediction_service_pb.js";
import { ARTIFACTS, eventually, newPage, openBrowserFixture, screenshot, type BrowserFixture } from "./support/browser.js";
import { grpcJsClient } from "./support/grpc-js-client.js";
import { sample } from "./support/shape-samples.js";
import { GARBAGE_MODEL, repositoryWithModel } from "./support/model-repos.js";
import { API_KEY, startTestServer } from "./support/test-server.js";

let fx: BrowserFixture;

beforeAll(async () => {
  // No CORS setting at all: the page is same-origin and must not need one.
  fx = await openBrowserFixture({ CORS_ORIGINS: "" });
}, 120_000);
afterAll(() => fx?.close());

async function openPage(key?: string, baseUrl = fx.server.baseUrl): Promise<{ page: Page; problems: string[] }> {
  const opened = await newPage(fx.browser);
  await opened.page.goto(`${baseUrl}/`);
  if (key !== undefined) {
    await opened.page.fill("#api-key", key);
    await opened.page.press("#api-key", "Enter");
  }
  return opened;
}

async function fillLoan(page: Page, v: Loan) {
  await page.fill("#age", v.age);
  await page.fill("#income", v.income);
  await page.fill("#credit_score", v.creditScore);
  await page.fill("#employment_years", v.years);
  await page.fill("#loan_amount", v.amount);
  await page.selectOption("#loan_purpose", { label: v.purpose });
}

type Loan = { age: string; income: string; creditScore: string; years: string; amount: string; purpose: string };

/** A loan field as the server's GetModelMetadata describes it. */
async function loanField(name: string): Promise<InputField> {
  const grpc = grpcJsClient(`127.0.0.1:${fx.server.port}`);
  try {
    const { message } = await grpc.unary(PredictionService.method.getModelMetadata, create(GetModelMetadataRequestSchema, { name: "loan-approval" }), {
      metadata: { "x-api-key": API_KEY },
    });
    const field = message?.inputFields.find((f) => f.name === name);
    if (!field) throw new Error(`GetModelMetadata describes no field ${name}`);
    return field;
  } finally {
    grpc.client.close();
  }
}

describe("the web page", () => {
  it("decides a loan as a gRPC client is answered, over Connect and over gRPC-Web", async () => {
    const { page, problems } = await openPage(API_KEY);
    await eventually(() => page.textContent("#key-status")).toContain("Key saved");
    const applications = [
      { age: "42", income: "120000", creditScore: "780", years: "12", amount: "20000", purpose: "Home", enumValue: LoanPurpose.HOME },
      { age: "23", income: "18000", creditScore: "520", years: "0.5", amount: "60000", purpose: "Personal", enumValue: LoanPurpose.PERSONAL },
    ];
    const grpc = grpcJsClient(`127.0.0.1:${fx.server.port}`);
    try {
      for (const app of applications) {
        const expected = await grpc.unary(
          PredictionService.method.predict,
          create(PredictRequestSchema, {
            age: Number(app.age),
            income: Number(app.income),
            creditScore: Number(app.creditScore),
            employmentYears: Number(app.years),
            loanAmount: Number(app.amount),
            loanPurpose: app.enumValue,
          }),
          { metadata: { "x-api-key": API_KEY } },
        );
        expect(expected.error).toBeUndefined();
        const want = expected.message!.decision === Decision.APPROVED ? "Approved" : "Denied";
        const wantProbability = `${(expected.message!.approvalProbability * 100).toFixed(1)}%`;
        for (const transport of ["connect", "grpc-web"]) {
          await page.check(`input[name=transport][value=${transport}]`);
          // No answer left from an earlier submit may pass for this one.
          await page.evaluate(() => document.getElementById("loan-result")!.replaceChildren());
          await fillLoan(page, app);
          await page.click("#loan-form button[type=submit]");
          await eventually(() => page.textContent("#loan-result .meta")).toContain(transport === "connect" ? "via Connect" : "via gRPC-Web");
          expect(await page.textContent("[data-testid=decision]")).toBe(want);
          expect(await page.textContent(".decision-prob")).toContain(wantProbability);
          // The reasons behind it, as the server gave them.
          expect(await page.locator(".factors li").count()).toBe(expected.message!.factors.length);
          await page.check("input[name=transport][value=connect]");
        }
        await page.click("#loan-form button[type=submit]");
        await page.waitForSelector("[data-testid=decision]");
        await screenshot(page, `loan-${want.toLowerCase()}`);
      }
    } finally {
      grpc.client.close();
    }
    expect(problems).toEqual([]);
  });

  it("shows an invalid age's error at the age field, from the server's BadRequest", async () => {
    const { page, problems } = await openPage(API_KEY);
    await fillLoan(page, { age: "12", income: "50000", creditScore: "700", years: "3", amount: "10000", purpose: "Car" });
    await page.click("#loan-form button[type=submit]");
    const error = page.locator("#age-error");
    await error.waitFor({ state: "visible" });
    // The server's own description of the rule (the page has no copy of it).
    expect(await error.textContent()).toBe("must be at least 18 (got 12)");
    expect(await page.getAttribute("#age", "aria-invalid")).toBe("true");
    expect(await page.locator(".field-error:visible").count()).toBe(1);
    // Focus goes to the field to fix.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("age");
    expect(await page.textContent("#loan-status")).toContain("Please correct the marked field");
    await screenshot(page, "loan-invalid-age");
    // Fixed, the error goes away.
    await page.fill("#age", "30");
    await page.click("#loan-form button[type=submit]");
    await page.waitForSelector("[data-testid=decision]");
    expect(await error.isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });

  it("shows each loan field's range from the model's metadata once a key is entered", async () => {
    const { page, problems } = await openPage();
    // No key, no metadata: the form is as it always was, the unit in the label.
    await eventually(() => page.textContent("#models-status")).toContain("Enter your API key");
    expect(await page.isHidden("#age-hint")).toBe(true);
    expect(await page.isVisible("label[for=age] .unit")).toBe(true);
    expect(await page.getAttribute("#age", "aria-describedby")).toBe("age-error");

    await page.fill("#api-key", API_KEY);
    await page.press("#api-key", "Enter");
    const age = await loanField("age");
    expect(age.min).toBeDefined();
    expect(age.max).toBeDefined();
    await eventually(() => page.textContent("#age-hint")).toBe(`${age.min}–${age.max} ${age.unit}`);
    // Read with the field, and the unit said once.
    expect(await page.getAttribute("#age", "aria-describedby")).toBe("age-hint age-error");
    expect(await page.isHidden("label[for=age] .unit")).toBe(true);
    // An exclusive minimum reads as one.
    const amount = await loanField("loan_amount");
    expect(amount.minExclusive).toBe(true);
    expect(await page.textContent("#loan_amount-hint")).toMatch(new RegExp(`^> ${amount.min} and ≤ [\\d,]+ ${amount.unit}$`));
    await screenshot(page, "loan-ranges");

    // Key forgotten: back to the labels' units.
    await page.click("#key-forget");
    await eventually(() => page.isHidden("#age-hint")).toBe(true);
    expect(await page.isVisible("label[for=age] .unit")).toBe(true);
    expect(await page.getAttribute("#age", "aria-describedby")).toBe("age-error");
    expect(problems).toEqual([]);
  });

  it("classifies a picked image and shows the top labels as bars", async () => {
    const { page, problems } = await openPage(API_KEY);
    const image = await sample("triangle", 0);
    const file = join(ARTIFACTS, "triangle.png");
    writeFileSync(file, image.bytes);
    await page.setInputFiles("#image-file", file);
    const top = page.locator("[data-testid=top-label]");
    await top.waitFor();
    expect(await top.textContent()).toBe("triangle");
    expect(await page.locator(".labels li .bar").count()).toBe(5);
    expect(await page.isVisible("#image-preview")).toBe(true);
    await screenshot(page, "image-classified");
    expect(problems).toEqual([]);
  });

  it("classifies a dropped JPEG over gRPC-Web", async () => {
    const { page, problems } = await openPage(API_KEY);
    await page.check("input[name=transport][value=grpc-web]");
    const image = await sample("ring", 2, "jpeg");
    // What a drop from the desktop delivers: a DragEvent whose DataTransfer holds the file.
    await page.evaluate(
      async ([b64, type]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "ring.jpg", { type }));
        document.getElementById("image-drop")!.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
      },
      [image.bytes.toString("base64"), image.contentType],
    );
    const top = page.locator("[data-testid=top-label]");
    await top.waitFor();
    expect(await top.textContent()).toBe("ring");
    expect(await page.textContent("#image-result .meta")).toContain("via gRPC-Web");
    expect(problems).toEqual([]);
  });

  it("says why a file that is not a usable image was refused", async () => {
    const { page, problems } = await openPage(API_KEY);
    const file = join(ARTIFACTS, "not-an-image.png");
    writeFileSync(file, "hello, I am text");
    await page.setInputFiles("#image-file", file);
    await eventually(() => page.textContent("#image-status")).toContain("The server could not use this input: the bytes are not a readable PNG image");
    expect(await page.isHidden("#image-result")).toBe(true);
    await eventually(() => page.isHidden("#image-preview")).toBe(true);
    await screenshot(page, "image-refused");
    expect(problems).toEqual([]);
  });

  it("classifies a drawing from the canvas", async () => {
    const { page, problems } = await openPage(API_KEY);
    const box = (await page.locator("#sketch").boundingBox())!;
    await page.mouse.move(box.x + 30, box.y + 30);
    await page.mouse.down();
    for (const [x, y] of [
      [130, 30],
      [130, 130],
      [30, 130],
      [30, 30],
    ])
      await page.mouse.move(box.x + x, box.y + y, { steps: 4 });
    await page.mouse.up();
    await page.click("#sketch-send");
    await page.locator("[data-testid=top-label]").waitFor();
    expect(await page.locator(".labels li").count()).toBe(5);
    expect(await page.textContent("#image-result .meta")).toContain("shapes");
    expect(problems).toEqual([]);
  });

  it("lists the models with their versions and states", async () => {
    const { page, problems } = await openPage(API_KEY);
    await page.locator("#models-table").waitFor();
    const rows = await page.locator("#models-body tr").allTextContents();
    expect(rows.some((r) => r.includes("loan-approval") && r.includes("ready"))).toBe(true);
    expect(rows.some((r) => r.includes("shapes") && r.includes("ready"))).toBe(true);
    // The card's headline figures, from ListModels' metadata.
    expect(rows.find((r) => r.includes("loan-approval"))).toMatch(/test roc auc 0\.\d{3}/);
    // The page in use, for the README (docs/page.png is a copy of this one).
    await fillLoan(page, { age: "42", income: "120000", creditScore: "780", years: "12", amount: "20000", purpose: "Home" });
    await page.click("#loan-form button[type=submit]");
    const file = join(ARTIFACTS, "star.png");
    writeFileSync(file, (await sample("star", 1)).bytes);
    await page.setInputFiles("#image-file", file);
    await page.locator("[data-testid=top-label]").waitFor();
    await page.locator("[data-testid=decision]").waitFor();
    await page.mouse.click(5, 5);
    await screenshot(page, "page");
    expect(problems).toEqual([]);
  });

  it("says clearly that a key is needed, and when the key is wrong", async () => {
    const { page, problems } = await openPage();
    await eventually(() => page.textContent("#models-status")).toContain("Enter your API key");
    await page.click("#loan-form button[type=submit]");
    expect(await page.textContent("#key-status")).toContain("An API key is needed");
    expect(await page.textContent("#loan-status")).toContain("Enter your API key above first");
    expect(await page.getAttribute("#api-key", "aria-invalid")).toBe("true");
    // Focus goes to the key box.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("api-key");
    expect(await page.isHidden("#loan-result")).toBe(true);
    await screenshot(page, "no-key");

    await page.fill("#api-key", "not-a-key");
    await page.press("#api-key", "Enter");
    await eventually(() => page.textContent("#key-status")).toContain("The server refused this key");
    await page.click("#loan-form button[type=submit]");
    await eventually(() => page.textContent("#loan-status")).toContain("refused the API key");
    await screenshot(page, "wrong-key");
    expect(problems).toEqual([]);
  });

  it("keeps the key in session storage and out of every URL", async () => {
    const { page } = await openPage(API_KEY);
    await page.waitForSelector("#models-table");
    expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(API_KEY);
    expect(page.url()).not.toContain(API_KEY);
    await page.reload();
    expect(await page.inputValue("#api-key")).toBe(API_KEY);
    await page.locator("#models-table").waitFor();
  });

  it("works from the keyboard alone", async () => {
    const { page } = await openPage();
    await page.focus("#api-key");
    await page.keyboard.type(API_KEY);
    await page.keyboard.press("Enter");
    await page.focus("#age");
    // Tab through the form to the purpose, pick one with the arrow keys, then on to the button.
    for (let i = 0; i < 5; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("loan_purpose");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Get decision");
    await page.keyboard.press("Enter");
    await page
      .locator("[data-testid=decision]")
      .waitFor()
      .catch(async (e) => {
        await screenshot(page, "keyboard-failed");
        throw new Error(`${e}; status: ${await page.textContent("#loan-status")}`);
      });
  });

  it("says when the model is not ready, and shows its failed version", async () => {
    // A loan model that cannot load: its only version is FAILED and Predict answers UNAVAILABLE.
    const repo = repositoryWithModel(GARBAGE_MODEL);
    const server = await startTestServer({ MODEL_REPOSITORY: repo.dir }, { webRoot: fx.webRoot });
    try {
      const { page, problems } = await openPage(API_KEY, server.baseUrl);
      await page.locator("#models-table").waitFor();
      const row = await page.locator("#models-body tr", { hasText: "loan-approval" }).textContent();
      expect(row).toContain("none ready");
      expect(row).toContain("failed");
      await page.selectOption("#loan_purpose", { label: "Home" });
      await page.click("#loan-form button[type=submit]");
      await eventually(() => page.textContent("#loan-status")).toContain("The model is not ready yet");
      expect(await page.isHidden("#loan-result")).toBe(true);
      await screenshot(page, "model-not-ready");
      expect(problems).toEqual([]);
    } finally {
      await server.close();
      repo.remove();
    }
  });
});
