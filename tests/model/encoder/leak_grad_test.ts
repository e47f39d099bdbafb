import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { parseDebertaConfig } from "../../../model/config.ts";
import { createDebertaModel } from "../../../model/deberta_v3.ts";
import type { DebertaModel } from "../../../model/deberta_v3.ts";
import { randomDebertaWeights } from "../../../model/random_weights.ts";
import type { LinearDelta } from "../../../model/linear_adapter.ts";
import { setWasmMatMul } from "../../../ops/wasm_batch_matmul.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

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

/** A LoRA-like delta with trainable A [r, in], B [out, r]. */
function loraDelta(inF: number, outF: number, seed: number): LinearDelta & { vars: tf.Variable[] } {
  const a = tf.tidy(() => tf.variable(tf.randomNormal([2, inF], 0, 0.3, "float32", seed)));
  const b = tf.tidy(() => tf.variable(tf.randomNormal([outF, 2], 0, 0.3, "float32", seed + 1)));
  return {
    vars: [a, b],
    delta: (x) => tf.matMul(tf.matMul(x, a, false, true), b, false, true),
  };
}

function loss(model: DebertaModel, training: boolean, seed?: number): tf.Scalar {
  const out = model.forward({ inputIds: IDS, attentionMask: MASK }, {
    training,
    ...(seed === undefined ? {} : { seed }),
  });
  const labels = tf.oneHot(tf.tensor1d([0, 2], "int32"), 3);
  return tf.losses.softmaxCrossEntropy(labels, out.logits) as tf.Scalar;
}

Deno.test("DebertaModel.forward() keeps tf.memory().numTensors flat across repeated calls", () => {
  const atStart = tf.memory().numTensors;
  const model = createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 3), {
    hiddenDropout: 0.1,
    attentionDropout: 0.1,
  });
  const adapter = loraDelta(16, 16, 5);
  model.setAdapter("deberta.encoder.layer.1.attention.self.key_proj", adapter);
  try {
    for (const training of [false, true]) {
      const run = () =>
        tf.dispose(
          model.forward({ inputIds: IDS, attentionMask: MASK }, {
            training,
            outputHiddenStates: true,
          }) as unknown as tf.TensorContainer,
        );
      run();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) run();
      assert.equal(tf.memory().numTensors, before, `training=${training}`);
    }
    const vars = model.trainableVariables();
    model.dispose();
    assert.ok(vars.every((v) => v.isDisposed));
    tf.dispose(adapter.vars);
    assert.equal(tf.memory().numTensors, atStart, "create + forward + dispose must leave nothing");
  } finally {
    model.dispose();
    tf.dispose(adapter.vars);
  }
});

Deno.test("DebertaModel.forward() inside tf.variableGrads() differentiates head and adapter variables on wasm", () => {
  assert.equal(tf.getBackend(), "wasm");
  const model = createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 4));
  const adapter = loraDelta(16, 16, 9);
  model.setAdapter("deberta.encoder.layer.0.attention.self.query_proj", adapter);
  try {
    const heads = model.trainableVariables();
    assert.deepEqual([...model.namedTrainableVariables().keys()], [
      "pooler.dense.weight",
      "pooler.dense.bias",
      "classifier.weight",
      "classifier.bias",
    ]);
    assert.ok(heads.every((v) => v.trainable));
    // One pass first: the backward keeps a transposed copy of each linear weight it multiplies
    // by (made once, freed by dispose); after that a pass must leave nothing behind.
    tf.tidy(() => {
      tf.variableGrads(() => loss(model, false), [...heads, ...adapter.vars]);
    });
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => loss(model, false), [
      ...heads,
      ...adapter.vars,
    ]);
    for (const v of [...heads, ...adapter.vars]) {
      const g = grads[v.name]!;
      assert.deepEqual(g.shape, v.shape);
      const norm = tf.tidy(() => tf.norm(g).dataSync()[0]!);
      assert.ok(Number.isFinite(norm) && norm > 0, `gradient of ${v.name} is ${norm}`);
    }
    const gA = grads[adapter.vars[0]!.name]!.dataSync()[3]!;
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, before, "variableGrads leaked tensors");
    // Central finite difference on one entry of the adapter's A (query_proj feeds content and
    // p2c paths): the analytic gradient must agree.
    const a = adapter.vars[0]!;
    const eps = 1e-2;
    const at = (delta: number): number => {
      const old = a.dataSync().slice();
      const bumped = old.slice();
      bumped[3] = bumped[3]! + delta;
      tf.tidy(() => a.assign(tf.tensor(bumped, a.shape)));
      const l = tf.tidy(() => loss(model, false).dataSync()[0]!);
      tf.tidy(() => a.assign(tf.tensor(old, a.shape)));
      return l;
    };
    const fd = (at(eps) - at(-eps)) / (2 * eps);
    assert.ok(Math.abs(fd - gA) < 2e-3 + 2e-2 * Math.abs(gA), `fd ${fd} vs analytic ${gA}`);
  } finally {
    model.dispose();
    tf.dispose(adapter.vars);
  }
});

Deno.test("DebertaModel.forward() training dropout is seeded: same seed same logits, other seed differs", () => {
  const model = createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 6), {
    hiddenDropout: 0.2,
    attentionDropout: 0.2,
    poolerDropout: 0.2,
  });
  try {
    const logits = (seed: number) =>
      tf.tidy(() =>
        model.forward({ inputIds: IDS, attentionMask: MASK }, { training: true, seed }).logits
          .dataSync()
      );
    assert.deepEqual(logits(11), logits(11));
    assert.notDeepEqual(logits(11), logits(12));
    const evalA = tf.tidy(() =>
      model.forward({ inputIds: IDS, attentionMask: MASK }).logits.dataSync()
    );
    const evalB = tf.tidy(() =>
      model.forward({ inputIds: IDS, attentionMask: MASK }).logits.dataSync()
    );
    assert.deepEqual(evalA, evalB);
  } finally {
    model.dispose();
  }
});

Deno.test("DebertaModel.forward() drops before the classifier at cls_dropout, else the hidden rate (as HF)", () => {
  const weights = randomDebertaWeights(CONFIG, 7);
  const logits = (options: Parameters<typeof createDebertaModel>[2], config = CONFIG) => {
    const model = createDebertaModel(config, weights, options);
    try {
      return tf.tidy(() =>
        Array.from(
          model.forward({ inputIds: IDS, attentionMask: MASK }, { training: true, seed: 5 }).logits
            .dataSync(),
        )
      );
    } finally {
      model.dispose();
    }
  };
  const plain = logits({});
  assert.deepEqual(logits({ classifierDropout: 0 }), plain);
  // the classifier site alone changes the logits
  assert.notDeepEqual(logits({ classifierDropout: 0.5 }), plain);
  // default: the hidden rate (HF: hidden_dropout_prob when cls_dropout is absent)
  const hidden = logits({ hiddenDropout: 0.3 });
  assert.notDeepEqual(hidden, logits({ hiddenDropout: 0.3, classifierDropout: 0 }));
  assert.deepEqual(hidden, logits({ hiddenDropout: 0.3, classifierDropout: 0.3 }));
  // cls_dropout in the config wins over the hidden rate
  const withCls = { ...CONFIG, clsDropout: 0 };
  assert.deepEqual(
    logits({ hiddenDropout: 0.3 }, withCls),
    logits({ hiddenDropout: 0.3, classifierDropout: 0 }),
  );
});

Deno.test("the backward's kept weight copies follow setBaseWeight and are freed by dispose (every recompute mode; with the relaxed-SIMD product none are made)", () => {
  for (const product of ["xnnpack", "relaxed-simd"] as const) {
    const before = setWasmMatMul(product);
    try {
      keptCopiesFollowSetBaseWeight(product === "xnnpack");
    } finally {
      setWasmMatMul(before);
    }
  }
});

function keptCopiesFollowSetBaseWeight(copiesExpected: boolean): void {
  const atStart = tf.memory().numTensors;
  const name = "deberta.encoder.layer.1.intermediate.dense";
  // An adapter below the swapped linear, so its gradient flows back through that weight.
  const below = "deberta.encoder.layer.0.attention.self.value_proj";
  const gradsOf = (model: DebertaModel, vars: tf.Variable[]): Float32Array[] =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => loss(model, false),
        [...model.trainableVariables(), ...vars],
      );
      value.dispose();
      return Object.values(grads).map((g) => g.dataSync() as Float32Array);
    });
  for (const mode of [false, true, "selective"] as const) {
    // Arrange: one model trained once (its kept copies made), one built with the new weight.
    const model = createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 3));
    const fresh = createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 3));
    model.setRecompute(mode);
    fresh.setRecompute(mode);
    const own = loraDelta(16, 16, 9);
    const other = loraDelta(16, 16, 9);
    const withVars = (d: LinearDelta & { vars: tf.Variable[] }) => ({
      ...d,
      trainableVariables: () => d.vars,
    });
    model.setAdapter(below, withVars(own));
    fresh.setAdapter(below, withVars(other));
    const swapped = tf.tidy(() => tf.mul(model.baseWeight(name), -2) as tf.Tensor2D);
    try {
      const tensorsBefore = tf.memory().numTensors;
      gradsOf(model, own.vars);
      const kept = tf.memory().numTensors - tensorsBefore;
      assert.equal(kept > 0, copiesExpected, `mode ${mode}: ${kept} tensors kept by a backward`);
      fresh.setBaseWeight(name, swapped);
      // Act: swap the weight in the trained model, differentiate both.
      model.setBaseWeight(name, swapped);
      const got = gradsOf(model, own.vars);
      const want = gradsOf(fresh, other.vars);
      assert.equal(got.length, 6);
      // Assert: the same gradients (a stale copy of the old weight would change them).
      got.forEach((g, k) => assert.deepEqual(g, want[k], `mode ${mode}, gradient ${k}`));
    } finally {
      swapped.dispose();
      model.dispose();
      fresh.dispose();
      tf.dispose([...own.vars, ...other.vars]);
    }
    assert.equal(tf.memory().numTensors, atStart, `mode ${mode}: dispose must free everything`);
  }
}
