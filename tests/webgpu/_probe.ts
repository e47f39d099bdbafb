import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { parseSafetensors } from "../../model/safetensors.ts";
import { createDebertaModel } from "../../model/deberta_v3.ts";
import { readGoldenJson, TINY_A, tinyConfig } from "../model/encoder/_golden.ts";
import type { GoldenBatch } from "../model/encoder/_golden.ts";
let t0 = performance.now();
console.log(await tf.setBackend("webgpu"), tf.getBackend(), performance.now() - t0);
const bytes = await Deno.readFile(new URL("model.safetensors", TINY_A));
const model = createDebertaModel(await tinyConfig(), parseSafetensors(bytes, "x"));
async function diff(t: tf.Tensor, e: unknown) { const a = await t.data(); const w = (e as number[]).flat(4) as number[]; let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - w[i]!)); return m; }
for (const file of ["golden_a.json", "golden_b.json"]) {
  t0 = performance.now();
  const g = await readGoldenJson<GoldenBatch>(file);
  const out = model.forward({ inputIds: g.input_ids, attentionMask: g.attention_mask, tokenTypeIds: g.token_type_ids }, { outputHiddenStates: true });
  console.log(file, await diff(out.logits, g.logits), performance.now() - t0);
}
