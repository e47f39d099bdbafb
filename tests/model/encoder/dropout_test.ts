import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { dropoutMultipliers, seededDropout } from "../../../model/_dropout.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

Deno.test("dropoutMultipliers(): every value is 0 or 1/(1 − rate), and the same seed gives the same mask", () => {
  for (const rate of [0.1, 0.5, 0.9]) {
    const m = dropoutMultipliers(4096, rate, "site:1");
    const scale = Math.fround(1 / Math.fround(1 - rate));
    assert.ok(m.every((v) => v === 0 || v === scale), `rate ${rate}`);
    assert.deepEqual(dropoutMultipliers(4096, rate, "site:1"), m);
  }
});

Deno.test("dropoutMultipliers(): the dropped fraction is the rate within 6 standard deviations, and each half of the mask too", () => {
  const n = 200_000;
  for (const rate of [0.05, 0.1, 0.3, 0.5]) {
    for (const seed of ["deberta:1:0", "deberta:1:1", "x"]) {
      const m = dropoutMultipliers(n, rate, seed);
      for (const [from, to] of [[0, n], [0, n / 2], [n / 2, n]] as const) {
        let dropped = 0;
        for (let i = from; i < to; i++) if (m[i] === 0) dropped++;
        const size = to - from;
        const sd = Math.sqrt(size * rate * (1 - rate));
        assert.ok(
          Math.abs(dropped - rate * size) < 6 * sd,
          `rate ${rate}, seed ${seed}, [${from}, ${to}): ${dropped} dropped`,
        );
      }
    }
  }
});

Deno.test("dropoutMultipliers(): neighbouring seeds give unrelated masks (agreement as for independent draws)", () => {
  const n = 100_000;
  const rate = 0.5;
  const a = dropoutMultipliers(n, rate, "deberta:7:3");
  for (const other of ["deberta:7:4", "deberta:8:3"]) {
    const b = dropoutMultipliers(n, rate, other);
    let same = 0;
    for (let i = 0; i < n; i++) if ((a[i] === 0) === (b[i] === 0)) same++;
    // Independent masks agree on half the entries; sd = √(n/4) ≈ 158.
    assert.ok(Math.abs(same - n / 2) < 6 * Math.sqrt(n / 4), `${other}: ${same} agree`);
  }
});

Deno.test("seededDropout(): rate 0 is the identity; otherwise x ⊙ mask, and the gradient is dy ⊙ mask", () => {
  const x = tf.randomNormal([64, 32], 0, 1, "float32", 3);
  try {
    assert.equal(seededDropout(x, 0, "s"), x);
    const mask = dropoutMultipliers(x.size, 0.2, "s");
    const y = seededDropout(x, 0.2, "s");
    const xs = x.dataSync();
    const ys = y.dataSync();
    for (let i = 0; i < xs.length; i++) assert.equal(ys[i], Math.fround(xs[i]! * mask[i]!));
    const g = tf.grad((t: tf.Tensor) => tf.sum(seededDropout(t, 0.2, "s")))(x);
    assert.deepEqual(g.dataSync(), mask);
    tf.dispose([y, g]);
  } finally {
    x.dispose();
  }
});
