// Scores to labels: softmax when the model gives logits, then the best k.
import type { LabelScore } from "../../gen/prediction/v1/prediction_service_pb.js";

export function topLabels(scores: ArrayLike<number>, labels: readonly string[], k: number, logits: boolean): LabelScore[] {
  const probs = logits ? softmax(scores) : Array.from(scores);
  const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a]);
  return order.slice(0, Math.min(k, probs.length)).map((i) => ({
    $typeName: "prediction.v1.LabelScore" as const,
    label: labels[i] ?? String(i),
    score: probs[i],
  }));
}

function softmax(x: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]);
  const e = Array.from(x, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
