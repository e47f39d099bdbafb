/**
 * Fixtures of the real-data tests: paths into `testdata/`, quiet writers, logits of a
 * model on a fixed batch of RTE dev pairs.
 *
 * The tiny golden model `tiny-a` has a 100-token vocabulary and ships no tokenizer; the tests use
 * `golden/spm/unigram.model` (2001 ids) with the tasks' explicit `outOfRangeIds: "unk"` option,
 * which maps every id >= 100 to `[UNK]` (id 3). About half the tokens of an RTE pair survive
 * (measured: 26 of 49 on the first train pair); the point is the plumbing, not the accuracy.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { parseDebertaConfig } from "../../../model/config.ts";
import { randomDebertaWeights } from "../../../model/random_weights.ts";
import { writeSafetensors } from "../../../model/safetensors.ts";
import type { DebertaModel } from "../../../model/deberta_v3.ts";
import { initBackend } from "../../../ops/backend.ts";
import { loadTokenizer } from "../../../model/tokenizer.ts";
import { collate } from "../../../train/features/collate.ts";
import { featurizeGlue } from "../../../train/features/glue.ts";
import { fitTokenIds } from "../../../train/glue_task.ts";
import { readGlue } from "../../../train/tasks/read_glue.ts";

const FIXTURES = new URL("../../../testdata/", import.meta.url);

/** Absolute path of a file under the repository's `testdata/`. */
export function fixturePath(rel: string): string {
  return decodeURIComponent(new URL(rel, FIXTURES).pathname);
}

/** The tiny golden model folder. */
export const TINY_MODEL: string = fixturePath("golden/deberta/tiny-a");
/** The test tokenizer (see the module doc). */
export const TOKENIZER: string = fixturePath("golden/spm/unigram.model");
/** RTE in the original GLUE layout. */
export const RTE: string = fixturePath("data/glue/RTE");

/** A writer that keeps what it is given. */
export function capture(): { writeSync(b: Uint8Array): number; text(): string } {
  const chunks: string[] = [];
  const dec = new TextDecoder();
  return {
    writeSync(b: Uint8Array): number {
      chunks.push(dec.decode(b));
      return b.length;
    },
    text: () => chunks.join(""),
  };
}

/** Padded inputs of the first `n` RTE dev pairs, ids fitted to the tiny vocabulary. */
export async function rteDevBatch(
  n: number,
  maxLength: number,
): Promise<{ inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][] }> {
  const tok = await loadTokenizer(TOKENIZER);
  const examples = (await readGlue("rte", "dev", RTE)).slice(0, n);
  const features = featurizeGlue(examples, tok, { maxLength });
  fitTokenIds(features, 100, tok.special.unk, "unk", TOKENIZER);
  return collate(features, features.map((_, i) => i), { padId: tok.special.pad });
}

/** Logits of `model` on a batch (eval mode), as a flat array. */
export async function logitsOf(
  model: DebertaModel,
  batch: { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][] },
): Promise<Float32Array> {
  const out = model.forward(batch, { training: false });
  out.lastHiddenState.dispose();
  const data = await out.logits.data() as Float32Array;
  out.logits.dispose();
  return data;
}

/** Largest absolute difference of two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Makes sure the wasm backend (the package default) is active. */
export async function useWasm(): Promise<void> {
  if (tf.getBackend() !== "wasm") await initBackend("wasm");
}

/**
 * Writes a small DeBERTa-v3-layout model folder whose vocabulary matches the test tokenizer
 * (2001 ids: 2000 pieces + appended `[MASK]`), so the CLIs can run with the model's own
 * `spm.model` and no id mapping: `config.json`, `model.safetensors` (seeded random weights, no
 * head), `spm.model` (a copy of `golden/spm/unigram.model`).
 *
 * @param dir The folder to fill (created).
 * @returns `dir`.
 */
export async function writeSmallModelFolder(dir: string): Promise<string> {
  const json = {
    model_type: "deberta-v2",
    vocab_size: 2001,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 64,
    relative_attention: true,
    position_buckets: 8,
    pos_att_type: ["p2c", "c2p"],
    share_att_key: true,
    norm_rel_ebd: "layer_norm",
    position_biased_input: false,
    type_vocab_size: 0,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.2,
    pooler_hidden_size: 16,
    pooler_dropout: 0,
    layer_norm_eps: 1e-7,
  };
  await Deno.mkdir(dir, { recursive: true });
  const config = parseDebertaConfig(json, "config.json");
  const weights = randomDebertaWeights(config, 7, { head: "none" });
  await Deno.writeFile(join(dir, "model.safetensors"), writeSafetensors(weights, { format: "pt" }));
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(json, null, 2));
  await Deno.copyFile(TOKENIZER, join(dir, "spm.model"));
  return dir;
}

/** Writes a GLUE RTE-layout folder (`train.tsv`, `dev.tsv`) from rows `[s1, s2, label]`. */
export async function writeRteFolder(
  dir: string,
  train: readonly (readonly [string, string, string])[],
  dev: readonly (readonly [string, string, string])[],
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const tsv = (rows: readonly (readonly [string, string, string])[]): string =>
    "index\tsentence1\tsentence2\tlabel\n" +
    rows.map((r, i) => `${i}\t${r[0]}\t${r[1]}\t${r[2]}\n`).join("");
  await Deno.writeTextFile(join(dir, "train.tsv"), tsv(train));
  await Deno.writeTextFile(join(dir, "dev.tsv"), tsv(dev));
  return dir;
}
