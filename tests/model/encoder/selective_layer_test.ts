import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { LayerRecorder } from "../../../model/selective_layer.ts";
import type { LinearDelta } from "../../../model/linear_adapter.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

const noSites = { training: true, getSite: () => 0, setSite: () => {} };

Deno.test("LayerRecorder: a step that reads an unregistered tensor is refused with a clear error", () => {
  tf.tidy(() => {
    const rec = new LayerRecorder(noSites);
    rec.input(tf.ones([2, 3]));
    assert.throws(
      () => rec.piece((t) => tf.relu(t), [tf.ones([2, 3])]),
      /Cannot record a piece for selective recomputation as every tensor it reads must be the layer input, a registered constant or a recorded output: current tensor has shape \[2,3\]/,
    );
  });
});

Deno.test("LayerRecorder.backward(): linear + adapter, piece and custom step give tfjs's gradients (x and adapter variables)", () => {
  tf.tidy(() => {
    // Arrange: y = custom(relu(x·W + δ(x)), x) with δ(x) = x·Aᵀ·Bᵀ and custom(u, v) = u ⊙ v,
    // whose hand-written gradient is (dy ⊙ v, dy ⊙ u).
    const x = tf.randomNormal([4, 3], 0, 1, "float32", 1) as tf.Tensor2D;
    const wT = tf.randomNormal([3, 3], 0, 1, "float32", 2) as tf.Tensor2D;
    const a = tf.variable(tf.randomNormal([2, 3], 0, 1, "float32", 3));
    const b = tf.variable(tf.randomNormal([3, 2], 0, 1, "float32", 4));
    const delta: LinearDelta = {
      delta: (t) => tf.matMul(tf.matMul(t, a, false, true), b, false, true),
      trainableVariables: () => [a, b],
    };
    const dy = tf.randomNormal([4, 3], 0, 1, "float32", 5);
    const forward = (t: tf.Tensor2D) =>
      tf.mul(tf.relu(tf.add(tf.matMul(t, wT), delta.delta(t, true))), t);
    // Act: the recorder's backward, and tfjs's gradient of Σ y ⊙ dy.
    const rec = new LayerRecorder(noSites);
    rec.input(x);
    const lin = rec.linear(
      { name: "w", weightT: wT, delta },
      x,
      (t) => tf.add(tf.matMul(t, wT), delta.delta(t, true)),
    );
    const u = rec.piece((t) => tf.relu(t), [lin]);
    const y = rec.custom(
      (p, q) => ({ value: tf.mul(p!, q!), residuals: [] }),
      [u, x],
      ([p, q], _r, g) => [tf.mul(g, q!), tf.mul(g, p!)],
    );
    const mine = rec.backward(rec.savedTensors(), y, dy, [a, b]);
    const xv = tf.variable(x, true);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(forward(xv as tf.Tensor as tf.Tensor2D), dy)) as tf.Scalar,
      [xv, a, b],
    );
    const want = [grads[xv.name], grads[a.name], grads[b.name]];
    xv.dispose();
    // Assert
    [mine.dx, ...mine.varGrads].forEach((g, k) => {
      const diff = tf.max(tf.abs(tf.sub(g, want[k]!))).dataSync()[0]!;
      assert.ok(diff < 1e-5, `gradient ${k}: max |Δ| ${diff}`);
    });
    tf.dispose([a, b]);
  });
});
