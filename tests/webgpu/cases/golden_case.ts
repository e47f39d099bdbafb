// Golden check of the encoder on the webgpu backend (tiny-a, HF transformers 5.18.0), same 1e-4
// tolerance as on wasm (tests/model/encoder/golden_test.ts: a correct fp32 implementation lands
// within ~1e-5; the smallest bug listed in the golden README moves hidden states by 7.6e-4).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { parseSafetensors } from "../../../model/safetensors.ts";
import { createDebertaModel } from "../../../model/deberta_v3.ts";
import { readGoldenJson, TINY_A, tinyConfig } from "../../model/encoder/_golden.ts";
import type { GoldenBatch } from "../../model/encoder/_golden.ts";
import { IGNORE_WEBGPU, maxDiff, use, values } from "./_webgpu.ts";

const TOL = 1e-4;

/** Max |a − b| over the real positions (mask 1) of [B, S, H] values. */
function maxDiffReal(got: Float32Array, want: number[][][], mask: number[][]): number {
  let m = 0;
  let i = 0;
  want.forEach((rows, b) =>
    rows.forEach((vec, s) =>
      vec.forEach((v) => {
        if (mask[b]![s] === 1) m = Math.max(m, Math.abs(got[i]! - Math.fround(v)));
        i++;
      })
    )
  );
  return m;
}

Deno.test({
  name:
    "webgpu: createDebertaModel() reproduces golden_a/golden_b within 1e-4 (logits, every hidden state)",
  ignore: IGNORE_WEBGPU,
  fn: async () => {
    await use("webgpu");
    // Every kernel as a WGSL shader (tfjs-webgpu otherwise runs small ops on CPU-resident data
    // with its cpu kernels, WEBGPU_CPU_FORWARD).
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    const before = tf.memory().numTensors;
    const bytes = await Deno.readFile(new URL("model.safetensors", TINY_A));
    const config = await tinyConfig();
    const model = createDebertaModel(config, parseSafetensors(bytes, "model.safetensors"));
    try {
      for (const file of ["golden_a.json", "golden_b.json"]) {
        const g = await readGoldenJson<GoldenBatch>(file);
        const out = model.forward(
          {
            inputIds: g.input_ids,
            attentionMask: g.attention_mask,
            tokenTypeIds: g.token_type_ids,
          },
          { outputHiddenStates: true },
        );
        const logit = maxDiff(await values(out.logits), g.logits.flat());
        const hidden: number[] = [];
        for (const [i, h] of out.hiddenStates!.entries()) {
          hidden.push(maxDiffReal(await values(h), g.hidden_states[i]!, g.attention_mask));
        }
        const last = maxDiffReal(
          await values(out.lastHiddenState),
          g.last_hidden_state,
          g.attention_mask,
        );
        console.log(
          `webgpu ${file}: logits ${logit.toExponential(2)}, hidden ${
            hidden.map((d) => d.toExponential(2)).join(" ")
          }, last ${last.toExponential(2)}`,
        );
        assert.equal(hidden.length, config.numHiddenLayers + 1);
        assert.ok(logit < TOL, `${file} logits differ by ${logit}`);
        hidden.forEach((d, i) => assert.ok(d < TOL, `${file} hidden_states[${i}] differ by ${d}`));
        assert.ok(last < TOL, `${file} last_hidden_state differs by ${last}`);
        tf.dispose(out as unknown as tf.TensorContainer);
      }
    } finally {
      model.dispose();
      tf.env().set("WEBGPU_CPU_FORWARD", true);
      await use("wasm");
    }
    assert.equal(tf.memory().numTensors, before, "the forward passes leave no tensor");
  },
});
