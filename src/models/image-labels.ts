// Scores to labels: softmax when the model gives logits, then the best k.
import type { LabelScore } from "../../gen/prediction/v1/prediction_service_pb.js";
import type { RejectConfig } from "../engine/model-config.js";

/**
 * Whether the best label is "none of these": the model's reject label, or a
 * score under its threshold. The server decides, so clients do not each
 * guess from scores.
 */
export function isRejected(best: LabelScore | undefined, reject: RejectConfig | undefined): boolean {
  if (!reject || !best) return false;
  return best.label === reject.label || best.score < (reject.min_score ?? 0);
}

/**
 * The k best labels, best first (ties: lower index first). Selects the k
 * indices in one pass instead of sorting every class: k is at most 100 and an
 * ImageNet model has 1000 classes.
 */
export function topLabels(scores: ArrayLike<number>, labels: readonly string[], k: number, logits: boolean): LabelScore[] {
  const probs = logits ? softmax(scores) : Float64Array.from(scores);
  const best = topIndices(probs, Math.min(k, probs.length));
  return best.map((i) => ({
    $typeName: "prediction.v1.LabelScore" as const,
    label: labels[i] ?? String(i),
    score: probs[i],
  }));
}

/** Indices of the k largest values, largest first; equal values keep index order. */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (top.length === k && !(v > values[top[k - 1]])) continue;
    // Insertion into the sorted k: after every index with a value >= v.
    let j = top.length === k ? k - 1 : top.length;
    while (j > 0 && values[top[j - 1]] < v) {
      top[j] = top[j - 1];
      j--;
    }
    top[j] = i;
  }
  return top;
}

function softmax(x: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  const e = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += e[i] = Math.exp(x[i] - max);
  for (let i = 0; i < e.length; i++) e[i] /= sum;
  return e;
}
