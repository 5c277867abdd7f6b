// Milliseconds of ONNX Runtime time per image at each batch size, one thread,
// for choosing an image model's max_batch_size on given hardware (as Triton's
// model analyzer would). Run it pinned to one core, as the bench runs the server:
//
//   npx tsx scripts/make-imagenet-model.ts /tmp/m/imagenet --full
//   taskset -c 0 npx tsx bench/batch-cost.ts /tmp/m/imagenet/1/model.onnx [sizes=1,2,4,8,16] [rounds=3]
import * as ort from "onnxruntime-node";

const [modelPath, sizesArg = "1,2,4,8,16", roundsArg = "3"] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: npx tsx bench/batch-cost.ts <model.onnx> [sizes=1,2,4,8,16] [rounds=3]");
  process.exit(2);
}
const sizes = sizesArg.split(",").map(Number);
const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
const input = session.inputNames[0]!;

const perImage = new Map<number, number[]>(sizes.map((b) => [b, []]));
// Rounds interleave the sizes, so that a noisy moment does not land on one size only.
for (let round = 0; round < Number(roundsArg); round++) {
  for (const b of sizes) {
    const x = new ort.Tensor("float32", new Float32Array(b * 3 * 224 * 224).fill(0.5), [b, 3, 224, 224]);
    await session.run({ [input]: x }); // warm-up for this shape
    const runs = Math.max(3, Math.ceil(48 / b));
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run({ [input]: x });
    perImage.get(b)!.push((performance.now() - t0) / runs / b);
  }
}
const median = (v: number[]) => [...v].sort((a, c) => a - c)[Math.floor(v.length / 2)]!;
const base = median(perImage.get(sizes[0]!)!);
for (const b of sizes) {
  const m = median(perImage.get(b)!);
  console.log(`batch ${String(b).padStart(3)}: ${m.toFixed(2)} ms per image (${(base / m).toFixed(2)}x batch ${sizes[0]})`);
}
