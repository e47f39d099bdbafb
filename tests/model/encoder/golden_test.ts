// Golden check of the encoder and heads against HF transformers 5.18.0 (tiny-a).
// Tolerance 1e-4 (the golden README: a correct fp32 implementation lands within ~1e-5; the
// smallest bug it lists, tanh-GELU, moves real hidden states by 7.6e-4).
// Measured max abs diffs (wasm, 2026-11-28, same from safetensors and .bin): batch a logits
// 3.6e-7, hidden (real positions, every layer) 1.2e-6; batch b logits 4.8e-7, hidden 1.8e-6
// (cpu backend: logits ≤ 6.9e-7, hidden ≤ 1.2e-6).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseSafetensors } from "../../../model/safetensors.ts";
import { parsePytorchBin } from "../../../model/pytorch_bin.ts";
import { createDebertaModel } from "../../../model/deberta_v3.ts";
import type { DebertaWeights } from "../../../model/deberta_v3.ts";
import { maxAbsDiff, maxAbsDiffReal, readGoldenJson, TINY_A, tinyConfig } from "./_golden.ts";
import type { GoldenBatch } from "./_golden.ts";

const TOL = 1e-4;
assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

async function checkGolden(weights: DebertaWeights, label: string): Promise<void> {
  const config = await tinyConfig();
  const model = createDebertaModel(config, weights);
  try {
    for (const file of ["golden_a.json", "golden_b.json"]) {
      const g = await readGoldenJson<GoldenBatch>(file);
      const out = model.forward(
        { inputIds: g.input_ids, attentionMask: g.attention_mask, tokenTypeIds: g.token_type_ids },
        { outputHiddenStates: true },
      );
      const logitDiff = maxAbsDiff(out.logits, g.logits);
      const hidden = out.hiddenStates!.map((h, i) =>
        maxAbsDiffReal(h, g.hidden_states[i]!, g.attention_mask)
      );
      const last = maxAbsDiffReal(out.lastHiddenState, g.last_hidden_state, g.attention_mask);
      console.log(
        `${label} ${file}: logits ${logitDiff.toExponential(2)}, hidden ${
          hidden.map((d) => d.toExponential(2)).join(" ")
        }`,
      );
      assert.equal(out.hiddenStates!.length, config.numHiddenLayers + 1);
      assert.ok(logitDiff < TOL, `${file} logits differ by ${logitDiff}`);
      hidden.forEach((d, i) => assert.ok(d < TOL, `${file} hidden_states[${i}] differ by ${d}`));
      assert.ok(last < TOL, `${file} last_hidden_state differs by ${last}`);
      // hidden_states[0] is the embedding output times the mask: its padded rows are defined (0)
      // and comparable, unlike the padded rows of later layers.
      const emb = maxAbsDiff(out.hiddenStates![0]!, g.hidden_states[0]);
      assert.ok(emb < TOL, `${file} hidden_states[0] (all positions) differ by ${emb}`);
      tf.dispose(out as unknown as tf.TensorContainer);
    }
  } finally {
    model.dispose();
  }
}

Deno.test("createDebertaModel() reproduces golden_a/golden_b from model.safetensors", async () => {
  const bytes = await Deno.readFile(new URL("model.safetensors", TINY_A));
  await checkGolden(parseSafetensors(bytes, "model.safetensors"), "safetensors");
});

Deno.test("createDebertaModel() reproduces golden_a/golden_b from pytorch_model.bin", async () => {
  const bytes = await Deno.readFile(new URL("pytorch_model.bin", TINY_A));
  await checkGolden(parsePytorchBin(bytes, "pytorch_model.bin"), "pytorch_model.bin");
});

Deno.test("createDebertaModel() reproduces golden_a/golden_b on the cpu backend too", async () => {
  const bytes = await Deno.readFile(new URL("model.safetensors", TINY_A));
  assert.ok(await tf.setBackend("cpu"));
  try {
    await checkGolden(parseSafetensors(bytes, "model.safetensors"), "cpu");
  } finally {
    assert.ok(await tf.setBackend("wasm"));
  }
});

Deno.test("DebertaModel.forward() takes int32 tensors as ids and masks, leaving them to the caller", async () => {
  const bytes = await Deno.readFile(new URL("model.safetensors", TINY_A));
  const model = createDebertaModel(
    await tinyConfig(),
    parseSafetensors(bytes, "model.safetensors"),
  );
  const g = await readGoldenJson<GoldenBatch>("golden_b.json");
  const ids = tf.tensor2d(g.input_ids, undefined, "int32");
  const mask = tf.tensor2d(g.attention_mask, undefined, "int32");
  try {
    const before = tf.memory().numTensors;
    const out = model.forward({ inputIds: ids, attentionMask: mask });
    const fromArrays = model.forward({ inputIds: g.input_ids, attentionMask: g.attention_mask });
    assert.ok(maxAbsDiff(out.logits, g.logits) < TOL);
    assert.deepEqual(out.logits.dataSync(), fromArrays.logits.dataSync());
    tf.dispose([out.logits, out.lastHiddenState, fromArrays.logits, fromArrays.lastHiddenState]);
    assert.equal(tf.memory().numTensors, before, "forward must leave only what it returns");
    assert.ok(!ids.isDisposed && !mask.isDisposed, "inputs belong to the caller");
    const floats = tf.cast(ids, "float32") as tf.Tensor2D;
    assert.throws(() => model.forward({ inputIds: floats }), /inputIds must be an int32/);
    floats.dispose();
    const short = tf.slice(mask, [0, 0], [3, 5]) as tf.Tensor2D;
    assert.throws(() => model.forward({ inputIds: ids, attentionMask: short }), /attentionMask/);
    short.dispose();
  } finally {
    tf.dispose([ids, mask]);
    model.dispose();
  }
});
