// lora_case.json: a triangular-LoRA delta on layer.0 query_proj, applied as x·W0ᵀ + b + delta(x),
// must reproduce the reference run with the merged weight in place. With share_att_key the
// delta must also act where query_proj projects the relative embeddings (p2c); applying it to
// the content path only moves the logits by 0.25 (golden README), far beyond the 1e-4 tolerance.
// Measured max abs diffs (wasm): logits 4.8e-7, hidden states (all real) ≤ 1.6e-6.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseSafetensors } from "../../../model/safetensors.ts";
import { createDebertaModel } from "../../../model/deberta_v3.ts";
import type { LinearDelta } from "../../../model/linear_adapter.ts";
import { maxAbsDiff, maxAbsDiffReal, readGoldenJson, TINY_A, tinyConfig } from "./_golden.ts";
import type { GoldenBatch } from "./_golden.ts";

const TOL = 1e-4;
assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

interface LoraCase extends GoldenBatch {
  layer: string;
  s: number;
  A: number[][];
  B: number[][];
  L: number[][];
  U: number[][];
  W_merged: number[][];
}

/** s · x·Aᵀ·(L+U)ᵀ·Bᵀ, counting the rows it sees. */
function triangularDelta(c: LoraCase): LinearDelta & { rowsSeen: number[]; dispose(): void } {
  const a = tf.tensor2d(c.A);
  const b = tf.tensor2d(c.B);
  const d = tf.add(tf.tensor2d(c.L), tf.tensor2d(c.U)) as tf.Tensor2D;
  const rowsSeen: number[] = [];
  return {
    rowsSeen,
    delta(x: tf.Tensor2D): tf.Tensor2D {
      rowsSeen.push(x.shape[0]);
      return tf.tidy(() =>
        tf.mul(
          tf.matMul(tf.matMul(tf.matMul(x, a, false, true), d, false, true), b, false, true),
          c.s,
        )
      );
    },
    dispose: () => tf.dispose([a, b, d]),
  };
}

Deno.test("DebertaModel.setAdapter() on query_proj reproduces lora_case.json (content and p2c paths)", async () => {
  const c = await readGoldenJson<LoraCase>("lora_case.json");
  const weights = parseSafetensors(
    await Deno.readFile(new URL("model.safetensors", TINY_A)),
    "model.safetensors",
  );
  const model = createDebertaModel(await tinyConfig(), weights);
  const delta = triangularDelta(c);
  try {
    model.setAdapter(c.layer, delta);
    const out = model.forward(
      { inputIds: c.input_ids, attentionMask: c.attention_mask },
      { outputHiddenStates: true },
    );
    const logitDiff = maxAbsDiff(out.logits, c.logits);
    const hidden = out.hiddenStates!.map((h, i) =>
      maxAbsDiffReal(h, c.hidden_states[i]!, c.attention_mask)
    );
    console.log(
      `lora_case: logits ${logitDiff.toExponential(2)}, hidden ${
        hidden.map((d) => d.toExponential(2)).join(" ")
      }`,
    );
    assert.ok(logitDiff < TOL, `logits differ by ${logitDiff}`);
    hidden.forEach((d, i) => assert.ok(d < TOL, `hidden_states[${i}] differ by ${d}`));
    // Content rows (2 × 7) and the relative-embedding rows (2·7 − 1) both went through it.
    assert.deepEqual(delta.rowsSeen, [14, 13]);
    tf.dispose(out as unknown as tf.TensorContainer);

    // Removing the adapter restores the base model (golden_a).
    model.setAdapter(c.layer, undefined);
    const g = await readGoldenJson<GoldenBatch>("golden_a.json");
    const base = model.forward({ inputIds: g.input_ids, attentionMask: g.attention_mask });
    assert.ok(maxAbsDiff(base.logits, g.logits) < TOL);
    tf.dispose(base as unknown as tf.TensorContainer);
  } finally {
    delta.dispose();
    model.dispose();
  }
});

Deno.test("DebertaModel.setBaseWeight() with W_merged reproduces lora_case.json", async () => {
  const c = await readGoldenJson<LoraCase>("lora_case.json");
  const weights = parseSafetensors(
    await Deno.readFile(new URL("model.safetensors", TINY_A)),
    "model.safetensors",
  );
  const model = createDebertaModel(await tinyConfig(), weights);
  try {
    const merged = tf.tensor2d(c.W_merged);
    model.setBaseWeight(c.layer, merged);
    merged.dispose();
    const back = model.baseWeight(c.layer);
    assert.deepEqual(back.shape, [32, 32]);
    assert.deepEqual(back.dataSync(), Float32Array.from(c.W_merged.flat()));
    back.dispose();
    const out = model.forward({ inputIds: c.input_ids, attentionMask: c.attention_mask });
    const d = maxAbsDiff(out.logits, c.logits);
    assert.ok(d < TOL, `logits differ by ${d}`);
    tf.dispose(out as unknown as tf.TensorContainer);
    assert.throws(() => model.setBaseWeight(c.layer, tf.zeros([2, 2])), TypeError);
  } finally {
    model.dispose();
  }
});
