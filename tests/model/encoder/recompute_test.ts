import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseDebertaConfig } from "../../../model/config.ts";
import {
  createDebertaModel,
  type DebertaModel,
  type Recompute,
} from "../../../model/deberta_v3.ts";
import { injectAdapters } from "../../../model/inject.ts";
import { randomDebertaWeights } from "../../../model/random_weights.ts";
import type { Adapter, AdapterMethod } from "../../../ops/adapter.ts";
import { createAdapter } from "../../../ops/registry.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

// Two layers, relative attention with c2p and p2c (Wq and Wk are called twice per layer), model
// dropout on every site and adapter dropout: the replay must draw the same masks.
const CONFIG = parseDebertaConfig({
  model_type: "deberta-v2",
  vocab_size: 30,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 64,
  relative_attention: true,
  position_buckets: 4,
  pos_att_type: "p2c|c2p",
  share_att_key: true,
  norm_rel_ebd: "layer_norm",
  position_biased_input: false,
  num_labels: 3,
  initializer_range: 0.2,
}, "inline");
const IDS = [[1, 5, 6, 7, 2, 0], [1, 9, 3, 2, 0, 0]];
const MASK = [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]];

// Tolerance: float32 round-off. The replay runs the same kernels on the same inputs with the
// same dropout masks, and the replay's seed `∂(Σ y ⊙ dy)/∂y = dy` is exact, so the gradients
// may differ only by the summation order of the backward. Measured max |Δ| over every gradient
// (printed below): 0 for all four methods on wasm (bit-identical). 1e-6 allows a backend with a
// different reduction order; a replay with the wrong dropout masks moved gradients by 0.7–8
// (checked by breaking the site replay), a missing variable or lost layer by far more than 1e-6.
const TOL = 1e-6;
// Selective recomputation (model/selective_layer.ts) adds the contributions to a value's
// gradient (several consumers of the layer input, the adapter and frozen parts of a linear) in
// its own order, so a gradient may differ from the plain path's by a few float32 rounding steps
// of its partial sums, and the attention core's hand-written gradient sums its terms in its own
// order: measured max |Δ| 2.38e-7 at a largest |grad| of 0.725 (LoRA; 2.09e-7 at 0.956 AdaLoRA
// and IncreLoRA, 1.06e-7 at 1.75 TriAdaptLoRA), about 2.7 × 2⁻²³ of the largest gradient. The
// bound is 8 × 2⁻²³ of the largest gradient (at least 1); the wrong dropout masks in a replayed
// piece or step or a lost contribution move gradients by 0.07–8 (checked by shifting the
// attention step's dropout site: 0.076–0.81).
const selectiveTol = (largest: number): number => 8 * 2 ** -23 * Math.max(1, largest);

function build(method: AdapterMethod): { model: DebertaModel; adapters: Adapter[] } {
  const model = createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 3), {
    hiddenDropout: 0.1,
    attentionDropout: 0.1,
  });
  let k = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter(method, {
        ...m,
        seed: 10 + k++,
        rank: 2,
        initialRank: 2,
        initRank: 2,
        dropout: 0.1,
        initStd: 0.3,
      } as never)).values(),
  ];
  return { model, adapters };
}

function gradsOf(
  model: DebertaModel,
  adapters: readonly Adapter[],
  recompute: Recompute,
): { loss: number; grads: Map<string, Float32Array> } {
  model.setRecompute(recompute);
  for (const a of adapters) {
    (a as Adapter & { setDropoutStep?: (n: number) => void }).setDropoutStep?.(7);
  }
  const vars = [...adapters.flatMap((a) => a.trainableVariables()), ...model.trainableVariables()];
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const out = model.forward({ inputIds: IDS, attentionMask: MASK }, {
        training: true,
        seed: 5,
      });
      const labels = tf.oneHot(tf.tensor1d([0, 2], "int32"), 3);
      return tf.losses.softmaxCrossEntropy(labels, out.logits) as tf.Scalar;
    }), vars);
  const out = new Map<string, Float32Array>();
  for (const [name, g] of Object.entries(grads)) out.set(name, g.dataSync() as Float32Array);
  const loss = value.dataSync()[0] as number;
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

/** Gives B (or E) values so every adapter path carries a gradient to A and B. */
async function perturb(adapters: readonly Adapter[]): Promise<void> {
  for (const a of adapters) {
    const snap = await a.snapshot();
    const tensors = Object.fromEntries(
      Object.entries(snap.tensors).map(([key, t]) => [
        key,
        /lora_B|lora_E|B\.|E\./.test(key) || /^B|^E/.test(key)
          ? { ...t, data: t.data.map((_, i) => 0.05 * (((i * 7) % 11) - 5)) }
          : t,
      ]),
    );
    a.restore({ ...snap, tensors });
  }
}

for (
  const [mode, label] of [[true, "recompute"], ["selective", "selective recompute"]] as const
) {
  for (const method of ["triadaptlora", "lora", "adalora", "increlora"] as const) {
    const bound = mode === "selective" ? "8 float32 steps of the largest gradient" : "1e-6";
    Deno.test(`${label} gradients equal the plain path's within ${bound}, tensors flat (${method}, dropout on)`, async () => {
      // Arrange
      const { model, adapters } = build(method);
      await perturb(adapters);
      try {
        // Act: plain, recompute, then recompute twice more counting tensors (the first passes
        // may keep the transposed weights the backward multiplies by; nothing else may stay).
        const plain = gradsOf(model, adapters, false);
        const re = gradsOf(model, adapters, mode);
        const before = tf.memory().numTensors;
        gradsOf(model, adapters, mode);
        const mid = tf.memory().numTensors;
        gradsOf(model, adapters, mode);
        const after = tf.memory().numTensors;
        // Assert: same variables, same loss, gradients within round-off; nothing leaked.
        assert.deepEqual([...re.grads.keys()].sort(), [...plain.grads.keys()].sort());
        assert.ok(Math.abs(re.loss - plain.loss) <= 1e-6, `loss ${re.loss} vs ${plain.loss}`);
        let max = 0;
        let largest = 0;
        for (const [name, g] of plain.grads) {
          const h = re.grads.get(name) as Float32Array;
          for (let i = 0; i < g.length; i++) {
            max = Math.max(max, Math.abs((g[i] ?? 0) - (h[i] ?? 0)));
            largest = Math.max(largest, Math.abs(g[i] ?? 0));
          }
        }
        console.log(
          `${method}: max |Δ grad| ${label} vs plain = ${max.toExponential(2)} (largest |grad| ${
            largest.toExponential(2)
          })`,
        );
        assert.ok(largest > 1e-3, "the gradients must not be trivially zero");
        const tol = mode === "selective" ? selectiveTol(largest) : TOL;
        assert.ok(max <= tol, `max |Δ grad| ${max} > ${tol}`);
        assert.equal(mid, before);
        assert.equal(after, before);
      } finally {
        for (const a of adapters) a.dispose();
        model.dispose();
      }
    });
  }
}
