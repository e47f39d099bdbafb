import assert from "node:assert/strict";
import { fc } from "../_fc.ts";
import {
  f1Binary,
  matthewsCorrcoef,
  normalizeAnswer,
  pearson,
  spearman,
} from "../../train/metrics/mod.ts";

/** Equal-length gold/prediction pairs, built by construction (no filtering). */
function pairs<T>(value: fc.Arbitrary<T>, minLength: number): fc.Arbitrary<[T[], T[]]> {
  return fc.array(fc.tuple(value, value), { minLength, maxLength: 60 })
    .map((rows) => [rows.map((r) => r[0]), rows.map((r) => r[1])]);
}

const binary = fc.integer({ min: 0, max: 1 });
const score = fc.integer({ min: 0, max: 50 }).map((v) => v / 10); // STS-B-like, with ties

Deno.test("spearman() is unchanged by a strictly increasing transform of the predictions", () => {
  // Arrange: ranks only depend on order, so exp() must give a bit-identical result.
  fc.assert(fc.property(pairs(score, 2), ([gold, pred]) => {
    // Act
    const before = spearman(gold, pred);
    const after = spearman(gold, pred.map((v) => Math.exp(v)));
    // Assert
    assert.ok(Object.is(before, after), `${before} vs ${after}`);
  }));
});

Deno.test("pearson() and spearman() stay within [-1, 1], or are NaN for a constant side", () => {
  fc.assert(fc.property(pairs(score, 2), ([gold, pred]) => {
    const constant = new Set(gold).size === 1 || new Set(pred).size === 1;
    for (const r of [pearson(gold, pred), spearman(gold, pred)]) {
      if (constant) assert.ok(Number.isNaN(r));
      else assert.ok(r >= -1 && r <= 1, String(r));
    }
  }));
});

Deno.test("matthewsCorrcoef() is symmetric in gold and predictions", () => {
  fc.assert(fc.property(pairs(fc.integer({ min: 0, max: 2 }), 1), ([gold, pred]) => {
    assert.ok(Object.is(matthewsCorrcoef(gold, pred), matthewsCorrcoef(pred, gold)));
  }));
});

Deno.test("f1Binary() agrees with the oracle 2·TP / (2·TP + FP + FN)", () => {
  fc.assert(fc.property(pairs(binary, 1), ([gold, pred]) => {
    let tp = 0, fp = 0, fn = 0;
    gold.forEach((y, i) => {
      if (y === 1 && pred[i] === 1) tp++;
      else if (pred[i] === 1) fp++;
      else if (y === 1) fn++;
    });
    const oracle = tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
    assert.ok(Math.abs(f1Binary(gold, pred) - oracle) <= 1e-15);
  }));
});

Deno.test("normalizeAnswer() is idempotent and leaves no article or ASCII punctuation", () => {
  const pieces = fc.constantFrom(
    "The",
    "a",
    "an",
    "THE",
    ",",
    ".",
    "'s",
    "-",
    " ",
    "\t",
    "é",
    "x",
    "1",
    "\u00a0",
    "“",
  );
  fc.assert(fc.property(fc.array(pieces, { maxLength: 12 }).map((p) => p.join("")), (text) => {
    const once = normalizeAnswer(text);
    assert.equal(normalizeAnswer(once), once);
    assert.ok(!/[!-/:-@[-`{-~]/.test(once), once);
    assert.ok(once.split(" ").every((t) => !["a", "an", "the"].includes(t)), once);
  }));
});
