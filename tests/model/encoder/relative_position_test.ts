import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  buildRelativePosition,
  logBucketPosition,
  relativeEmbeddingRows,
  relativeShift,
} from "../../../model/relative_position.ts";
import { readGoldenJson } from "./_golden.ts";
import type { GoldenBatch } from "./_golden.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

Deno.test("buildRelativePosition() matches the golden relative_pos tables (buckets 8, max 64)", async () => {
  for (const file of ["golden_a.json", "golden_b.json"]) {
    const g = await readGoldenJson<GoldenBatch>(file);
    const s = g.input_ids[0]!.length;
    assert.deepEqual(buildRelativePosition(s, 8, 64), g.relative_pos, file);
  }
});

Deno.test("logBucketPosition() is odd, monotone and keeps |k| <= mid (DeBERTa-v3-base: 256, 512)", () => {
  let prev = -Infinity;
  for (let k = -2000; k <= 2000; k++) {
    const p = logBucketPosition(k, 256, 512);
    assert.ok(logBucketPosition(-k, 256, 512) === -p, `not odd at ${k}`);
    assert.ok(p >= prev, `not monotone at ${k}`);
    prev = p;
    if (Math.abs(k) <= 128) assert.equal(p, k);
  }
  assert.equal(logBucketPosition(511, 256, 512), 255);
  assert.equal(logBucketPosition(5, -1, 512), 5);
  assert.throws(() => logBucketPosition(0.5, 8, 64), TypeError);
});

/** Direct (gather-style) c2p/p2c index tables of the reference, for comparison. */
function referenceScores(
  q: number[][],
  k: number[][],
  table: number[][],
  s: number,
  span: number,
): { c2p: number[][]; p2c: number[][] } {
  const p = Array.from({ length: s }, (_, i) => Array.from({ length: s }, (_, j) => i - j))
    .map((row) => row.map((v) => logBucketPosition(v, 8, 64)));
  const clamp = (v: number) => Math.min(Math.max(v, 0), 2 * span - 1);
  const dot = (a: number[], b: number[]) => a.reduce((acc, x, i) => acc + x * b[i]!, 0);
  const c2p = p.map((row, i) => row.map((v) => dot(q[i]!, table[clamp(v + span)]!)));
  const p2c = p.map((row, i) => row.map((_, j) => dot(k[j]!, table[clamp(-p[j]![i]! + span)]!)));
  return { c2p, p2c };
}

Deno.test("relativeShift() of per-distance scores equals the reference's gather for c2p and p2c", () => {
  for (const s of [1, 2, 5, 12, 40]) {
    const span = 8;
    const d = 3;
    const rnd = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 2);
    const q = Array.from({ length: s }, (_, i) => rnd(d).map((v) => v + i));
    const k = Array.from({ length: s }, (_, i) => rnd(d).map((v) => v - i * 0.5));
    const table = Array.from({ length: 2 * span }, (_, r) => rnd(d).map((v) => v * (r + 1)));
    const want = referenceScores(q, k, table, s, span);
    const rows = relativeEmbeddingRows(s, { bucketSize: 8, maxPosition: 64, span });
    const got = tf.tidy(() => {
      const pk = tf.tensor2d([...rows.c2p].map((r) => table[r]!));
      const pq = tf.tensor2d([...rows.p2c].map((r) => table[r]!));
      const qt = tf.tensor2d(q).reshape([1, 1, s, d]);
      const kt = tf.tensor2d(k).reshape([1, 1, s, d]);
      const c2p = relativeShift(tf.matMul(qt, pk, false, true) as tf.Tensor4D);
      const p2c = tf.transpose(relativeShift(tf.matMul(kt, pq, false, true) as tf.Tensor4D), [
        0,
        1,
        3,
        2,
      ]);
      return [
        c2p.reshape([s, s]).arraySync() as number[][],
        p2c.reshape([s, s]).arraySync() as number[][],
      ];
    });
    for (const [name, g, w] of [["c2p", got[0]!, want.c2p], ["p2c", got[1]!, want.p2c]] as const) {
      g.forEach((row, i) =>
        row.forEach((v, j) =>
          assert.ok(
            Math.abs(v - w[i]![j]!) < 1e-3 * (1 + Math.abs(w[i]![j]!)),
            `${name} s=${s} [${i}][${j}]`,
          )
        )
      );
    }
  }
});

Deno.test("relativeShift() rejects a last dimension other than 2S − 1", () => {
  const x = tf.zeros([1, 1, 3, 4]) as tf.Tensor4D;
  assert.throws(() => relativeShift(x), TypeError);
  x.dispose();
});
