import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseDebertaConfig } from "../../../model/config.ts";
import { createDebertaModel } from "../../../model/deberta_v3.ts";
import {
  DEFAULT_TARGET_MODULES,
  injectAdapters,
  selectTargetModules,
} from "../../../model/inject.ts";
import { randomDebertaWeights } from "../../../model/random_weights.ts";
import type { LinearDelta } from "../../../model/linear_adapter.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

/** The module names of a DeBERTa-v3-base classifier (12 layers) plus its heads. */
function baseNames(): string[] {
  const names: string[] = [];
  for (let i = 0; i < 12; i++) {
    const p = `deberta.encoder.layer.${i}`;
    names.push(
      `${p}.attention.self.query_proj`,
      `${p}.attention.self.key_proj`,
      `${p}.attention.self.value_proj`,
      `${p}.attention.output.dense`,
      `${p}.intermediate.dense`,
      `${p}.output.dense`,
    );
  }
  return [...names, "pooler.dense", "classifier"];
}

Deno.test("selectTargetModules() picks the paper's 72 DeBERTa-v3-base matrices by default, never pooler.dense", () => {
  const selected = selectTargetModules(baseNames());
  assert.equal(selected.length, 72);
  assert.ok(!selected.includes("pooler.dense") && !selected.includes("classifier"));
  assert.equal(selectTargetModules(baseNames(), DEFAULT_TARGET_MODULES).length, 72);
});

Deno.test("selectTargetModules() follows PEFT: suffix at a dot boundary, or a full-name regex", () => {
  const names = baseNames();
  assert.equal(selectTargetModules(names, ["query_proj", "value_proj"]).length, 24);
  assert.equal(selectTargetModules(names, ["dense"]).length, 36); // pooler.dense excluded
  assert.equal(selectTargetModules(names, ["proj"]).length, 0); // "query_proj" is not ".proj"
  assert.equal(selectTargetModules(names, /.*\.layer\.(0|11)\..*_proj/).length, 6);
  assert.equal(selectTargetModules(names, /query_proj/).length, 0); // must match the whole name
  assert.deepEqual(selectTargetModules(names, /pooler\.dense/), []);
  assert.throws(() => selectTargetModules(names, [""]), TypeError);
});

Deno.test("injectAdapters() refuses targets that match no module, attaching nothing", () => {
  const attached: string[] = [];
  const model = {
    adaptableModules: () =>
      baseNames().slice(0, 72).map((name) => ({
        name,
        inFeatures: 768,
        outFeatures: 768,
      })),
    setAdapter: (name: string) => void attached.push(name),
  };
  const zero: LinearDelta = { delta: (x) => tf.zerosLike(x) };
  assert.throws(
    () => injectAdapters(model, () => zero, ["q_proj", "v_proj"]),
    (e: unknown) =>
      e instanceof RangeError && /q_proj/.test(e.message) && /query_proj/.test(e.message),
  );
  assert.throws(() => injectAdapters(model, () => zero, /pooler\.dense/), RangeError);
  assert.throws(() => injectAdapters(model, () => zero, []), RangeError);
  assert.deepEqual(attached, []);
  assert.equal(injectAdapters(model, () => zero, ["layer.3.output.dense"]).size, 1);
});

Deno.test("injectAdapters() attaches one adapter per selected linear of a model, with its widths", () => {
  const config = parseDebertaConfig({
    model_type: "deberta-v2",
    vocab_size: 20,
    hidden_size: 8,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 16,
    relative_attention: true,
    position_buckets: 4,
    pos_att_type: "p2c|c2p",
    share_att_key: true,
    norm_rel_ebd: "layer_norm",
    position_biased_input: false,
    num_labels: 2,
  }, "inline");
  const model = createDebertaModel(config, randomDebertaWeights(config, 2));
  try {
    const seen: string[] = [];
    const adapters = injectAdapters(model, (m) => {
      seen.push(`${m.inFeatures}->${m.outFeatures}`);
      const zero: LinearDelta = { delta: (x) => tf.zeros([x.shape[0], m.outFeatures]) };
      return zero;
    });
    assert.equal(adapters.size, 12);
    assert.deepEqual(seen.slice(0, 6), ["8->8", "8->8", "8->8", "8->8", "8->16", "16->8"]);
    for (const name of adapters.keys()) assert.equal(model.adapter(name), adapters.get(name));
    // Zero deltas leave the function unchanged.
    const ids = { inputIds: [[1, 4, 5, 2]] };
    const withZero = tf.tidy(() => model.forward(ids).logits.dataSync());
    for (const name of adapters.keys()) model.setAdapter(name, undefined);
    const plain = tf.tidy(() => model.forward(ids).logits.dataSync());
    assert.deepEqual(withZero, plain);
  } finally {
    model.dispose();
  }
});
