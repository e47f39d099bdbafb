/**
 * The wasm backend's two matrix products side by side (docs/METHOD.md §23): the relaxed-SIMD
 * product (`ops/_relaxed_gemm.ts`, the default) and the package's XNNPACK one
 * (`setWasmMatMul("xnnpack")`), at the products of one DeBERTa-v3-base layer at batch 4 × 128
 * (one worker's share of 8 × 128), timed alternately so machine drift hits both alike: the
 * median of 9 calls each after 2 untimed calls, on one core.
 *
 * ```sh
 * deno run --allow-read --allow-env bench/wasm_matmul.ts
 * ```
 *
 * Not part of `deno task bench` or the test suite.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../ops/backend.ts";
import { setWasmMatMul, type WasmMatMul } from "../ops/wasm_batch_matmul.ts";

await initBackend("wasm");

/** One product: `op(a)·op(b)` with a's and b's shapes as stored. */
interface Case {
  readonly label: string;
  readonly a: number[];
  readonly b: number[];
  readonly transposeB?: boolean;
}

const cases: Case[] = [
  { label: "linear 512×768·768×768", a: [512, 768], b: [768, 768] },
  { label: "linear 512×768·768×3072", a: [512, 768], b: [768, 3072] },
  { label: "linear 512×3072·3072×768", a: [512, 3072], b: [3072, 768] },
  {
    label: "input gradient 512×768·(768×768)ᵀ",
    a: [512, 768],
    b: [768, 768],
    transposeB: true,
  },
  { label: "scores [48]·128×64·64×128", a: [48, 128, 64], b: [48, 64, 128] },
  { label: "context [48]·128×128·128×64", a: [48, 128, 128], b: [48, 128, 64] },
  { label: "position [12]·512×64·64×255", a: [12, 512, 64], b: [12, 64, 255] },
];

const products: WasmMatMul[] = ["relaxed-simd", "xnnpack"];
console.log("| product | relaxed-SIMD ms | XNNPACK ms | speed-up |\n| --- | --- | --- | --- |");
for (const c of cases) {
  const a = tf.randomNormal(c.a), b = tf.randomNormal(c.b);
  const run = () => tf.matMul(a, b, false, c.transposeB ?? false);
  const times: Record<WasmMatMul, number[]> = { "relaxed-simd": [], xnnpack: [] };
  for (let i = 0; i < 11; i++) {
    for (const product of products) {
      setWasmMatMul(product);
      const t0 = performance.now();
      // The wasm kernels run synchronously: the call's return is the work's end.
      const y = run();
      if (i >= 2) times[product].push(performance.now() - t0);
      y.dispose();
    }
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  const [r, x] = [median(times["relaxed-simd"]), median(times.xnnpack)];
  console.log(`| ${c.label} | ${r.toFixed(2)} | ${x.toFixed(2)} | ${(x / r).toFixed(2)}× |`);
  tf.dispose([a, b]);
}
setWasmMatMul("relaxed-simd");
