// The reasons given with a decision, as a plain function of one output row.
import { describe, expect, it } from "vitest";
import { DecisionFactorSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import type { FactorSpec } from "../src/engine/model-config.js";
import { topFactors } from "../src/models/loan-task.js";

const SPECS: FactorSpec[] = ["a", "b", "c", "d", "e"].map((f) => ({ feature: f, raises_approval: `${f} up`, lowers_approval: `${f} down` }));
const features = (row: ArrayLike<number>, approved: boolean, offset?: number, width?: number) =>
  topFactors(row, SPECS, approved, offset, width).map((f) => f.feature);

describe("topFactors", () => {
  it("names at most three factors behind an approval, strongest first", () => {
    expect(features([0.5, -2, 3, 1, 0.1], true)).toEqual(["c", "d", "a"]);
  });

  it("names what counted against a denial, most negative first", () => {
    expect(features([0.5, -2, -3, 1, -0.1], false)).toEqual(["c", "b", "e"]);
  });

  it("keeps column order between equal contributions, and leaves out zeros and NaN", () => {
    expect(features([1, 2, 1, 0, Number.NaN], true)).toEqual(["b", "a", "c"]);
    expect(features([0, 0, 0, 0, 0], true)).toEqual([]);
  });

  it("reads one row of a batch output in place", () => {
    const batch = new Float32Array([9, 9, 9, 9, 9, /* row 1: */ -1, 2, 0, 3, -4]);
    expect(features(batch, true, 5, 5)).toEqual(["d", "b"]);
    expect(features(batch, false, 5, 5)).toEqual(["e", "a"]);
    // A narrower row than the specs: only its own columns count.
    expect(features(batch, true, 5, 2)).toEqual(["b"]);
  });

  it("describes each factor by the way it pushed, as the answer's DecisionFactor message", () => {
    const factor = { $typeName: DecisionFactorSchema.typeName };
    expect(topFactors([2, -1], SPECS, true)).toEqual([{ ...factor, feature: "a", contribution: 2, description: "a up" }]);
    expect(topFactors([2, -1], SPECS, false)).toEqual([{ ...factor, feature: "b", contribution: -1, description: "b down" }]);
  });
});
