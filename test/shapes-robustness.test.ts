// The shapes model's robustness targets, through the real server on a real
// socket: scenes from test/support/shape-scenes.ts (a generator separate from
// the training renderer, and indices the card's evaluation did not use) sent
// as ClassifyImage calls. Each in-range condition (small shapes, outlines,
// non-square canvases, textured backgrounds, low contrast) must be answered
// correctly and unflagged at >= 95%; images with no single shape must come
// back rejected at >= 90%, and at most 2% of in-range images may.
import { describe, expect, it } from "vitest";
import { IN_RANGE_CONDITIONS, OOD_CONDITIONS, renderScene, type Condition, type Scene } from "./support/shape-scenes.js";
import { AUTH_HEADERS, serverWithClient } from "./support/prediction-client.js";

const headers = AUTH_HEADERS;
const { client } = serverWithClient();
const PER_CONDITION = 60;
// Indices past the card's evaluation (0..299), so these are scenes no one tuned on.
const FIRST_INDEX = 10_000;

interface Answer {
  scene: Scene;
  label: string;
  score: number;
  rejected: boolean;
}

/** Sends every scene of a condition, 16 calls in flight. */
async function run(condition: Condition): Promise<Answer[]> {
  const scenes = await Promise.all(Array.from({ length: PER_CONDITION }, (_, i) => renderScene(condition, FIRST_INDEX + i)));
  const answers: Answer[] = [];
  for (let i = 0; i < scenes.length; i += 16) {
    const chunk = scenes.slice(i, i + 16);
    const replies = await Promise.all(
      chunk.map((s) => client().classifyImage({ image: s.bytes, contentType: s.contentType, modelName: "shapes", topK: 1 }, { headers })),
    );
    replies.forEach((r, j) => {
      const c = r.classification!;
      answers.push({ scene: chunk[j]!, label: c.labels[0]!.label, score: c.labels[0]!.score, rejected: c.rejected });
    });
  }
  return answers;
}

const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(1)}% (${n}/${d})`;

describe("shapes model robustness (separate generator, through the server)", () => {
  const inRangeFlagged: number[] = [];

  it.each(IN_RANGE_CONDITIONS.map((c) => [c]))("%s: >= 95% correct and not rejected", async (condition) => {
    const answers = await run(condition);
    const wrong = answers.filter((a) => a.rejected || a.label !== a.scene.expected);
    inRangeFlagged.push(answers.filter((a) => a.rejected).length);
    const detail = wrong.map((a) => `${a.scene.expected}→${a.rejected ? "rejected " : ""}${a.label}@${a.score.toFixed(2)}`).join(", ");
    console.log(`shapes ${condition}: ${pct(answers.length - wrong.length, answers.length)} correct`);
    expect(wrong.length / answers.length, detail).toBeLessThanOrEqual(0.05);
  });

  it("rejects at most 2% of in-range images over all those conditions", () => {
    const flagged = inRangeFlagged.reduce((a, b) => a + b, 0);
    const total = IN_RANGE_CONDITIONS.length * PER_CONDITION;
    expect(inRangeFlagged).toHaveLength(IN_RANGE_CONDITIONS.length);
    console.log(`shapes in-range rejected: ${pct(flagged, total)}`);
    expect(flagged / total).toBeLessThanOrEqual(0.02);
  });

  it("rejects >= 90% of images with no single shape (flat, gradient, texture, noise, two shapes)", async () => {
    let flagged = 0;
    let total = 0;
    const per: string[] = [];
    for (const condition of OOD_CONDITIONS) {
      const answers = await run(condition);
      const n = answers.filter((a) => a.rejected).length;
      flagged += n;
      total += answers.length;
      per.push(`${condition} ${pct(n, answers.length)}`);
      // Every answer is explicit: a rejected image's best label is the reject label or under the threshold.
      for (const a of answers) if (!a.rejected) expect(a.label).not.toBe("other");
    }
    console.log(`shapes OOD rejected: ${pct(flagged, total)}; ${per.join("; ")}`);
    expect(flagged / total, per.join("; ")).toBeGreaterThanOrEqual(0.9);
  });
});
