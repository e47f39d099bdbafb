/**
 * Micro-benchmark: one adapter forward + backward at DeBERTa-base shapes (768→768, 768→3072,
 * batch×seq = 4096 rows) for each method at the same rank, with the ratio to LoRA.
 *
 * Standalone: `deno run -A bench/adapter_bench.ts [--quick] [--backend wasm|cpu]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { type Adapter, type BackendName, createAdapter, initBackend } from "../ops/mod.ts";

/** Options of `runAdapterBench`. */
export interface AdapterBenchOptions {
  /** Quick mode (< 20 s): 1024 rows, 3 repeats, instead of 4096 rows, 10 repeats. */
  readonly quick: boolean;
  /** Rows of the input (overrides quick's 1024 / the full 4096; the webgpu rows use 128). */
  readonly rows?: number;
  /** Shapes (in, out); default 768→768 and 768→3072. */
  readonly shapes?: readonly (readonly [number, number])[];
}

const METHODS = ["lora", "triadaptlora", "adalora", "increlora", "increlora+score"] as const;

function makeAdapter(
  method: (typeof METHODS)[number],
  n: number,
  d: number,
  rank: number,
): Adapter {
  const common = { name: `bench.${method}.${n}x${d}`, inFeatures: n, outFeatures: d, seed: 1 };
  switch (method) {
    case "lora":
      return createAdapter("lora", { ...common, rank });
    case "triadaptlora":
      return createAdapter("triadaptlora", { ...common, initialRank: rank });
    case "adalora":
      return createAdapter("adalora", { ...common, initialRank: rank });
    case "increlora":
      return createAdapter("increlora", { ...common, initialRank: rank, trackScore: false });
    case "increlora+score":
      return createAdapter("increlora", { ...common, initialRank: rank, trackScore: true });
  }
}

async function timeStep(ad: Adapter, x: tf.Tensor2D): Promise<number> {
  const t0 = performance.now();
  const { value, grads } = tf.variableGrads(
    () => ad.delta(x, true).mean() as tf.Scalar,
    ad.trainableVariables(),
  );
  for (const g of Object.values(grads)) await g.data();
  await value.data();
  const ms = performance.now() - t0;
  tf.dispose([value, grads]);
  return ms;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs the benchmark and returns a markdown table (time per fwd+bwd step: median and min–max
 * over repeats after one warm-up step per method, methods interleaved within each repeat, ratio
 * to LoRA at the same rank). Every step awaits
 * `data()` of all gradients before the clock stops. `increlora+score` is IncreLoRA with its
 * importance score on: the backward pass then forms the `d×n` product `ΔW ⊙ (dyᵀ·x)`.
 *
 * @example
 * ```ts ignore
 * import { runAdapterBench } from "./adapter_bench.ts";
 * console.log(await runAdapterBench({ quick: true }));
 * ```
 *
 * @param options `quick` for the < 20 s variant.
 * @returns The markdown report, including the active backend.
 */
export async function runAdapterBench(options: AdapterBenchOptions): Promise<string> {
  const rows = options.rows ?? (options.quick ? 1024 : 4096);
  const repeats = options.quick ? 3 : 10;
  const rank = 8;
  const shapes = options.shapes ?? [[768, 768], [768, 3072]];
  const lines = [
    `### Adapter forward+backward (backend ${tf.getBackend()}, tfjs ${tf.version_core}, rows ${rows}, rank ${rank}, ${repeats} repeats after 1 warm-up${
      options.quick ? ", quick" : ""
    })`,
    "",
    "| shape (in→out) | method | median ms/step | min–max ms | ratio to LoRA |",
    "|---|---|---:|---:|---:|",
  ];
  for (const [n, d] of shapes) {
    const x = tf.randomNormal([rows, n], 0, 1, "float32", 7) as tf.Tensor2D;
    // Round-robin over methods within each repeat, so machine drift hits all methods alike.
    const adapters = METHODS.map((m) => makeAdapter(m, n, d, rank));
    for (const ad of adapters) await timeStep(ad, x);
    const times: number[][] = METHODS.map(() => []);
    for (let i = 0; i < repeats; i++) {
      for (const [k, ad] of adapters.entries()) times[k]!.push(await timeStep(ad, x));
    }
    adapters.forEach((ad) => ad.dispose());
    const loraMedian = median(times[0]!);
    METHODS.forEach((method, k) => {
      const t = times[k]!;
      const med = median(t);
      lines.push(
        `| ${n}→${d} | ${method} | ${med.toFixed(1)} | ${Math.min(...t).toFixed(1)}–${
          Math.max(...t).toFixed(1)
        } | ${(med / loraMedian).toFixed(2)} |`,
      );
    });
    x.dispose();
  }
  return lines.join("\n");
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      backend: { type: "string", default: "wasm" },
    },
  });
  const info = await initBackend(values.backend as BackendName);
  console.error(info.summary);
  console.log(await runAdapterBench({ quick: values.quick === true }));
}

if (import.meta.main) await main(Deno.args);
