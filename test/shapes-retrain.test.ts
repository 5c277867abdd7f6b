// Opt-in, as slow as training: retrains the shapes model from this
// checkout into a temporary copy of models/shapes with the documented command
// and checks that the held-out figures match the committed metrics.json within
// TOLERANCE, and that the ONNX file is byte-identical when the environment is
// the one the card records. Run it with `npm run test:shapes-retrain`.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const RUN = process.env.SHAPES_RETRAIN === "1";
const MODEL_DIR = fileURLToPath(new URL("../models/shapes/", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../scripts/image-model/train_shapes.py", import.meta.url));
// Absolute difference allowed per figure: a retrain elsewhere may round differently.
const TOLERANCE = 0.005;
const FIGURES = ["val_accuracy", "val_in_range_accuracy", "val_in_range_flagged", "val_reject_flagged", "calibrated_min_score"];

describe.skipIf(!RUN)("shapes retrain (SHAPES_RETRAIN=1)", () => {
  it("reproduces metrics.json", { timeout: 40 * 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "shapes-retrain-"));
    try {
      cpSync(join(MODEL_DIR, "config.json"), join(dir, "config.json"));
      cpSync(join(MODEL_DIR, "labels.txt"), join(dir, "labels.txt"));
      await promisify(execFile)("/usr/bin/python3", [SCRIPT], { env: { ...process.env, SHAPES_MODEL_DIR: dir }, maxBuffer: 1 << 24 });
      const shipped = JSON.parse(readFileSync(join(MODEL_DIR, "2", "metrics.json"), "utf8"));
      const retrained = JSON.parse(readFileSync(join(dir, "2", "metrics.json"), "utf8"));
      for (const key of FIGURES) {
        console.log(`shapes retrain ${key}: shipped ${shipped[key]} retrained ${retrained[key]}`);
        expect(Math.abs(retrained[key] - shipped[key]), key).toBeLessThanOrEqual(TOLERANCE);
      }
      const sameEnvironment = JSON.stringify(retrained.environment) === JSON.stringify(shipped.environment);
      console.log(
        `shapes retrain sha256 ${retrained.model_sha256} (shipped ${shipped.model_sha256}; same environment: ${sameEnvironment}); timing ${JSON.stringify(retrained.timing)}`,
      );
      if (sameEnvironment) expect(retrained.model_sha256).toBe(shipped.model_sha256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
