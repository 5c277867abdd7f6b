// Measures resident memory across repeated model reloads (create, warm up,
// release), the operation hot reload performs. onnxruntime sessions leak
// some memory on create/release in Node (onnxruntime issue #25325), which is
// why the repository reloads only versions whose files changed.
//
//   npx tsx bench/reload-rss.ts [reloads=200] [model=models/loan-approval/1/model.onnx]
import { InferencePool } from "../src/engine/inference-pool.js";

const reloads = Number(process.argv[2] ?? 200);
const modelPath = process.argv[3] ?? "models/loan-approval/1/model.onnx";
const pool = new InferencePool({ workers: 1 });
const mb = () => process.memoryUsage().rss / 2 ** 20;

const feeds = () => ({ features: { type: "float32" as const, data: new Float32Array(9), dims: [1, 9] } });
// One load first, so the baseline includes onnxruntime's own start-up memory.
const first = await pool.load(modelPath);
await first.run(feeds());
await first.release();
const baseline = mb();
console.log(`baseline after one load: ${baseline.toFixed(1)} MiB`);
for (let i = 1; i <= reloads; i++) {
  const s = await pool.load(modelPath);
  await s.run(feeds());
  await s.release();
  if (i % Math.max(1, Math.floor(reloads / 10)) === 0) console.log(`after ${i} reloads: ${mb().toFixed(1)} MiB (+${(mb() - baseline).toFixed(1)})`);
}
const growth = mb() - baseline;
console.log(`growth: ${growth.toFixed(1)} MiB over ${reloads} reloads = ${((growth * 1024) / reloads).toFixed(1)} KiB per reload`);
await pool.close();
