/**
 * The 12-layer acceptance run (issue 12, docs/METHOD.md §22), opt-in and long (minutes, GBs):
 * writes a DeBERTa-v3-base-shaped checkpoint with random weights (cached under `--cache`), an
 * RTE-layout folder whose pairs fill 128 tokens, and runs `deno task train` (`train/cli.ts`
 * in-process) for 3 optimizer steps at batch 8 × 128 on wasm. Prints the wall time, the
 * per-step times from `metrics.jsonl`-free progress (the run's own seconds) and the wasm heap's
 * high-water mark.
 *
 * ```sh
 * nice -n 10 deno run --allow-read --allow-write --allow-env --allow-run \
 *   bench/base_train_bench.ts --cache /tmp/triadapt-base [--workers 1] [--micro-batch N] \
 *   [--recompute on|selective|off|auto] [--method triadapt]
 * ```
 *
 * Not part of `deno task bench` or the test suite.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseDebertaConfig } from "../model/config.ts";
import { randomDebertaWeights } from "../model/random_weights.ts";
import { writeSafetensors } from "../model/safetensors.ts";
import { main as trainMain } from "../train/cli.ts";

const BASE_CONFIG = {
  model_type: "deberta-v2",
  vocab_size: 128100,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  relative_attention: true,
  position_buckets: 256,
  pos_att_type: ["p2c", "c2p"],
  share_att_key: true,
  norm_rel_ebd: "layer_norm",
  position_biased_input: false,
  type_vocab_size: 0,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  pooler_hidden_size: 768,
  pooler_dropout: 0,
  layer_norm_eps: 1e-7,
  initializer_range: 0.02,
};

const WORDS = ["the", "cat", "sat", "on", "a", "mat", "while", "dog", "ran", "far", "away", "home"];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes the base-shaped checkpoint once (about 740 MB). */
async function baseModel(cache: string): Promise<string> {
  const dir = join(cache, "deberta-v3-base-random");
  if (await exists(join(dir, "model.safetensors"))) return dir;
  await Deno.mkdir(dir, { recursive: true });
  const config = parseDebertaConfig(BASE_CONFIG, "config.json");
  const weights = randomDebertaWeights(config, 7, { head: "none" });
  await Deno.writeFile(join(dir, "model.safetensors"), writeSafetensors(weights, { format: "pt" }));
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(BASE_CONFIG, null, 2));
  const spm = new URL("../testdata/golden/spm/unigram.model", import.meta.url);
  await Deno.copyFile(spm, join(dir, "spm.model"));
  return dir;
}

/** RTE-layout pairs long enough to fill 128 tokens after truncation. */
async function rteFolder(cache: string): Promise<string> {
  const dir = join(cache, "RTE-long");
  await Deno.mkdir(dir, { recursive: true });
  const sentence = (i: number, n: number): string =>
    Array.from({ length: n }, (_, k) => WORDS[(i * 7 + k * 5) % WORDS.length]).join(" ") + ".";
  const rows = (count: number): string =>
    "index\tsentence1\tsentence2\tlabel\n" +
    Array.from({ length: count }, (_, i) =>
      `${i}\t${sentence(i, 90)}\t${sentence(i + 1, 60)}\t${
        i % 2 === 0 ? "entailment" : "not_entailment"
      }\n`).join("");
  await Deno.writeTextFile(join(dir, "train.tsv"), rows(32));
  await Deno.writeTextFile(join(dir, "dev.tsv"), rows(8));
  return dir;
}

function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length ?? -1;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      cache: { type: "string", default: "/tmp/triadapt-base" },
      workers: { type: "string", default: "1" },
      "micro-batch": { type: "string" },
      recompute: { type: "string", default: "auto" },
      method: { type: "string", default: "triadapt" },
      steps: { type: "string", default: "3" },
    },
  });
  const cache = values.cache as string;
  let t = performance.now();
  const model = await baseModel(cache);
  const data = await rteFolder(cache);
  console.log(`checkpoint and data ready in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const out = join(cache, `run-${Date.now()}`);
  const args = [
    "--model",
    model,
    "--task",
    "rte",
    "--data",
    data,
    "--out",
    out,
    "--backend",
    "wasm",
    "--method",
    values.method as string,
    "--max-steps",
    values.steps as string,
    "--batch-size",
    "8",
    "--max-length",
    "128",
    "--ref-rank",
    "8",
    "--init-warmup",
    "1",
    "--interval",
    "1",
    "--log-every",
    "1",
    "--eval-every",
    "1000",
    "--workers",
    values.workers as string,
    "--recompute",
    values.recompute as string,
    ...(values["micro-batch"] === undefined ? [] : ["--micro-batch", values["micro-batch"]]),
  ];
  console.log(`deno task train ${args.join(" ")}`);
  t = performance.now();
  const code = await trainMain(args, { progress: false });
  const seconds = (performance.now() - t) / 1000;
  const metrics = await Deno.readTextFile(join(out, "metrics.jsonl")).catch(() => "");
  console.log(metrics.trim());
  console.log(
    `exit ${code}; wall ${seconds.toFixed(1)} s; main-thread wasm heap high-water ${
      (wasmHeapBytes() / 2 ** 30).toFixed(2)
    } GiB`,
  );
  Deno.exit(code);
}
