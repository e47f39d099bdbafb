// Config variants beyond DeBERTa-v3-base, checked by exact equivalences between configs (each
// side computes the same function by construction), so a wrong index, scale or projection fails.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseDebertaConfig } from "../../../model/config.ts";
import type { DebertaConfig } from "../../../model/config.ts";
import { createDebertaModel } from "../../../model/deberta_v3.ts";
import type { DebertaInputs } from "../../../model/deberta_v3.ts";
import { randomDebertaWeights } from "../../../model/random_weights.ts";
import type { RawTensor } from "../../../model/safetensors.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

const INPUTS: DebertaInputs = {
  inputIds: [[1, 5, 6, 7, 8, 9, 10, 2], [1, 11, 12, 2, 0, 0, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0]],
};

function config(extra: Record<string, unknown>): DebertaConfig {
  return parseDebertaConfig({
    model_type: "deberta-v2",
    vocab_size: 30,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 32,
    relative_attention: true,
    position_buckets: 4,
    pos_att_type: "p2c|c2p",
    share_att_key: true,
    norm_rel_ebd: "layer_norm",
    position_biased_input: false,
    num_labels: 3,
    initializer_range: 0.3,
    ...extra,
  }, "inline");
}

function run(cfg: DebertaConfig, weights: Map<string, RawTensor>, inputs = INPUTS): Float32Array[] {
  const model = createDebertaModel(cfg, weights);
  try {
    return tf.tidy(() => {
      const out = model.forward(inputs);
      return [
        out.logits.dataSync() as Float32Array,
        out.lastHiddenState.dataSync() as Float32Array,
      ];
    });
  } finally {
    model.dispose();
  }
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, k) => x.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k]![i]!)))));
  return m;
}

function scaled(t: RawTensor, factor: number): RawTensor {
  return { ...t, data: (t.data as Float32Array).map((v) => v * factor) };
}

function zeros(t: RawTensor): RawTensor {
  return { ...t, data: new Float32Array(t.data.length) };
}

const layers = [0, 1].map((i) => `deberta.encoder.layer.${i}.attention.self`);

Deno.test("DebertaModel share_att_key=false with pos_*_proj = query/key_proj equals share_att_key=true", () => {
  const shared = config({});
  const separate = config({ share_att_key: false });
  const w = randomDebertaWeights(shared, 21);
  const w2 = new Map(w);
  for (const p of layers) {
    for (const s of ["weight", "bias"]) {
      w2.set(`${p}.pos_key_proj.${s}`, w.get(`${p}.key_proj.${s}`)!);
      w2.set(`${p}.pos_query_proj.${s}`, w.get(`${p}.query_proj.${s}`)!);
    }
  }
  const d = maxDiff(run(shared, w), run(separate, w2));
  assert.ok(d < 1e-5, `differ by ${d}`);
  // pos_key_proj is really used: changing it changes the output.
  w2.set(
    `${layers[0]}.pos_key_proj.weight`,
    scaled(w2.get(`${layers[0]}.pos_key_proj.weight`)!, 2),
  );
  assert.ok(maxDiff(run(shared, w), run(separate, w2)) > 1e-3);
  const model = createDebertaModel(separate, w2);
  assert.equal(model.adaptableModules().length, 16);
  model.dispose();
});

Deno.test("DebertaModel pos_att_type c2p only equals c2p|p2c with a zero p2c projection and √(3/2) rescale", () => {
  const both = config({ share_att_key: false });
  const c2pOnly = config({ share_att_key: false, pos_att_type: ["c2p"] });
  const w = randomDebertaWeights(both, 22);
  const wBoth = new Map(w);
  const wC2p = new Map(w);
  for (const p of layers) {
    for (const s of ["weight", "bias"]) {
      wBoth.set(`${p}.pos_query_proj.${s}`, zeros(w.get(`${p}.pos_query_proj.${s}`)!));
      wC2p.delete(`${p}.pos_query_proj.${s}`);
      // (q·k + q·pk)/√(3d) = (q'·k + q'·pk)/√(2d) with q' = q·√(2/3)
      wC2p.set(`${p}.query_proj.${s}`, scaled(w.get(`${p}.query_proj.${s}`)!, Math.sqrt(2 / 3)));
    }
  }
  const d = maxDiff(run(both, wBoth), run(c2pOnly, wC2p));
  assert.ok(d < 1e-5, `differ by ${d}`);
});

Deno.test("DebertaModel pos_att_type p2c only equals c2p|p2c with a zero c2p projection and √(3/2) rescale", () => {
  const both = config({ share_att_key: false });
  const p2cOnly = config({ share_att_key: false, pos_att_type: ["p2c"] });
  const w = randomDebertaWeights(both, 23);
  const wBoth = new Map(w);
  const wP2c = new Map(w);
  for (const p of layers) {
    for (const s of ["weight", "bias"]) {
      wBoth.set(`${p}.pos_key_proj.${s}`, zeros(w.get(`${p}.pos_key_proj.${s}`)!));
      wP2c.delete(`${p}.pos_key_proj.${s}`);
      wP2c.set(`${p}.key_proj.${s}`, scaled(w.get(`${p}.key_proj.${s}`)!, Math.sqrt(2 / 3)));
    }
  }
  const d = maxDiff(run(both, wBoth), run(p2cOnly, wP2c));
  assert.ok(d < 1e-5, `differ by ${d}`);
});

Deno.test("DebertaModel position_biased_input and token types: zero tables equal the plain model, others differ", () => {
  const plain = config({});
  const biased = config({ position_biased_input: true, type_vocab_size: 2 });
  const w = randomDebertaWeights(plain, 24);
  const wb = new Map(w);
  wb.set("deberta.embeddings.position_embeddings.weight", {
    shape: [32, 16],
    dtype: "F32",
    data: new Float32Array(32 * 16),
  });
  wb.set("deberta.embeddings.token_type_embeddings.weight", {
    shape: [2, 16],
    dtype: "F32",
    data: new Float32Array(32),
  });
  const types = { ...INPUTS, tokenTypeIds: [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0, 0]] };
  assert.ok(maxDiff(run(plain, w), run(biased, wb, types)) < 1e-6);
  const rb = randomDebertaWeights(biased, 25);
  for (const k of ["position_embeddings", "token_type_embeddings"]) {
    const name = `deberta.embeddings.${k}.weight`;
    const changed = new Map(wb);
    changed.set(name, rb.get(name)!);
    assert.ok(maxDiff(run(plain, w), run(biased, changed, types)) > 1e-3, k);
  }
  const tooLong = { inputIds: [Array.from({ length: 33 }, () => 5)] };
  const model = createDebertaModel(biased, wb);
  assert.throws(() => model.forward(tooLong), RangeError);
  model.dispose();
});

Deno.test("DebertaModel heads: question answering [B,S,2], regression [B,1], none [B,0]", () => {
  const cfg = config({});
  for (
    const [head, shape, vars] of [
      ["question-answering", [2, 8, 2], 2],
      ["regression", [2, 1], 4],
      ["none", [2, 0], 0],
    ] as const
  ) {
    const model = createDebertaModel(cfg, randomDebertaWeights(cfg, 26, { head }));
    assert.equal(model.head, head);
    assert.equal(model.trainableVariables().length, vars);
    const out = model.forward(INPUTS);
    assert.deepEqual(out.logits.shape, shape);
    tf.dispose([out.logits, out.lastHiddenState]);
    model.dispose();
  }
});

Deno.test("DebertaModel without relative attention runs content-only attention", () => {
  const cfg = config({ relative_attention: false, pos_att_type: [], norm_rel_ebd: "none" });
  const [logits] = run(cfg, randomDebertaWeights(cfg, 27));
  assert.ok(logits!.every(Number.isFinite));
});

Deno.test("DebertaModel rejects bad inputs, names and weights with clear errors", () => {
  const cfg = config({});
  const w = randomDebertaWeights(cfg, 28);
  const model = createDebertaModel(cfg, w);
  assert.throws(() => model.forward({ inputIds: [[1, 2], [1]] }), TypeError);
  assert.throws(() => model.forward({ inputIds: [[1, 2]], attentionMask: [[1, 1, 1]] }), TypeError);
  assert.throws(() => model.forward({ inputIds: [[1.5, 2]] }), TypeError);
  // ids outside the embedding tables: a RangeError naming the entry and the config field
  assert.throws(
    () => model.forward({ inputIds: [[1, 30, 2]] }),
    (e: unknown) =>
      e instanceof RangeError && /inputIds\[0\]\[1\]/.test(e.message) &&
      /vocab_size/.test(e.message) && /30/.test(e.message),
  );
  assert.throws(() => model.forward({ inputIds: [[1, -1, 2]] }), /inputIds\[0\]\[1\]/);
  const typed = createDebertaModel(config({ type_vocab_size: 2 }), {
    ...Object.fromEntries(w),
    "deberta.embeddings.token_type_embeddings.weight": {
      shape: [2, 16],
      data: new Float32Array(32),
    },
  });
  assert.throws(
    () => typed.forward({ inputIds: [[1, 5, 2]], tokenTypeIds: [[0, 1, 2]] }),
    (e: unknown) =>
      e instanceof RangeError && /tokenTypeIds\[0\]\[2\]/.test(e.message) &&
      /type_vocab_size/.test(e.message),
  );
  typed.dispose();
  assert.throws(() => model.setAdapter("pooler.dense", undefined), RangeError);
  assert.throws(() => model.baseWeight("nope"), RangeError);
  model.dispose();
  assert.throws(() => model.forward(INPUTS), TypeError);
  const missing = new Map(w);
  missing.delete("deberta.encoder.layer.1.output.dense.weight");
  const before = tf.memory().numTensors;
  assert.throws(() => createDebertaModel(cfg, missing), /output\.dense\.weight/);
  assert.equal(tf.memory().numTensors, before, "a failed build must free what it allocated");
  assert.throws(() => createDebertaModel(cfg, w, { hiddenDropout: 1 }), RangeError);
});
