/**
 * Encoder forward benchmark: a DeBERTa-v3-base-shaped encoder (random weights, 12 layers, hidden
 * 768, 12 heads, intermediate 3072, 256 position buckets) on batch 8 × 128 tokens, on the default
 * backend (wasm). `quick` uses a small shape and finishes in seconds.
 *
 * Run alone: `deno run -A bench/encoder_bench.ts [--quick]`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseArgs } from "node:util";
import { benchDebertaConfig, benchTokenIds, type EncoderShape } from "./_bench_model.ts";
import { createDebertaModel } from "../model/deberta_v3.ts";
import { randomDebertaWeights } from "../model/random_weights.ts";

/** An encoder shape with its warm-up and timed run counts. */
export interface Shape extends EncoderShape {
  readonly warmup: number;
  readonly repeats: number;
}

const BASE: Shape = {
  label: "DeBERTa-v3-base shape",
  layers: 12,
  hidden: 768,
  heads: 12,
  intermediate: 3072,
  vocab: 128100,
  batch: 8,
  seq: 128,
  warmup: 1,
  repeats: 3,
};
const QUICK: Shape = {
  label: "quick shape",
  layers: 2,
  hidden: 128,
  heads: 4,
  intermediate: 512,
  vocab: 1000,
  batch: 8,
  seq: 128,
  warmup: 1,
  repeats: 5,
};

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Times the encoder forward (eval mode, classification head) and reports it as markdown.
 *
 * @param options `quick`: a 2-layer, 128-wide encoder instead of the base shape; `shape`: another.
 * @returns A markdown section: shape, backend, median / min / max forward time and tokens/s.
 *
 * @example
 * ```ts ignore
 * import { runEncoderBench } from "./encoder_bench.ts";
 *
 * console.log(await runEncoderBench({ quick: true }));
 * ```
 */
export async function runEncoderBench(
  options: { quick: boolean; shape?: Shape },
): Promise<string> {
  const shape = options.shape ?? (options.quick ? QUICK : BASE);
  await tf.ready();
  const config = benchDebertaConfig(shape, "encoder_bench");
  const tensorsBefore = tf.memory().numTensors;
  const t0 = performance.now();
  const model = createDebertaModel(config, randomDebertaWeights(config, 1));
  const buildMs = performance.now() - t0;
  const ids = benchTokenIds(shape);
  const mask = ids.map((row) => row.map(() => 1));
  const times: number[] = [];
  try {
    for (let i = 0; i < shape.warmup + shape.repeats; i++) {
      const start = performance.now();
      const out = model.forward({ inputIds: ids, attentionMask: mask });
      await out.logits.data();
      await out.lastHiddenState.data();
      const ms = performance.now() - start;
      tf.dispose([out.logits, out.lastHiddenState]);
      if (i >= shape.warmup) times.push(ms);
    }
  } finally {
    model.dispose();
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  const med = median(times);
  const tokens = shape.batch * shape.seq;
  return [
    `### Encoder forward (${shape.label})`,
    "",
    `${shape.layers} layers, hidden ${shape.hidden}, ${shape.heads} heads, intermediate ${shape.intermediate}, ` +
    `vocab ${shape.vocab}, 256 buckets, p2c|c2p; batch ${shape.batch} × ${shape.seq} tokens; ` +
    `backend \`${tf.getBackend()}\`; eval mode; ${shape.warmup} warm-up, ${shape.repeats} timed runs ` +
    `(clock stopped after \`await data()\`). Random weights built in ${
      (buildMs / 1000).toFixed(1)
    } s.`,
    "",
    "| median ms | min ms | max ms | tokens/s | leaked tensors |",
    "| --- | --- | --- | --- | --- |",
    `| ${med.toFixed(0)} | ${Math.min(...times).toFixed(0)} | ${Math.max(...times).toFixed(0)} | ${
      (tokens / (med / 1000)).toFixed(0)
    } | ${leaked} |`,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false } },
  });
  const ok = await tf.setBackend("wasm");
  if (!ok) console.error("wasm backend unavailable; using", tf.getBackend());
  console.log(await runEncoderBench({ quick: values.quick ?? false }));
}
