import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { thresholdArb } from "../../arbitraries.ts";
import { thresholdK } from "../../../core/mod.ts";

Deno.test("thresholdK() bounds: examples", () => {
  const o = { modules: 72, deltaRank: 4 } as const;
  assert.equal(thresholdK(0.001, 504, { ...o, threshold: "linear" }), 1); // max(k, 1)
  assert.equal(thresholdK(0.9, 504, { ...o, threshold: "linear" }), 72); // min(k, M)
  assert.equal(thresholdK(0.9, 10, { ...o, threshold: "linear" }), 3); // ⌈10/4⌉
  assert.equal(thresholdK(0.9, 10, { ...o, threshold: "linear", allowOvershoot: true }), 9);
  assert.equal(thresholdK(0.9, 0, { ...o, threshold: "linear" }), 0); // no budget, no event
  assert.equal(thresholdK(0.9, 0, { ...o, threshold: "linear", allowOvershoot: true }), 0);
  assert.equal(thresholdK(0.9, -3, { ...o, threshold: "fixed", topH: 2, allowOvershoot: true }), 0);
});

Deno.test("thresholdK() gives 1 ≤ k ≤ min(M, ⌈R/Δr⌉) whenever R > 0", () => {
  fc.assert(
    fc.property(
      thresholdArb(),
      fc.integer({ min: 1, max: 10_000 }),
      fc.double({ min: 0, max: 1, noNaN: true, minExcluded: true }),
      fc.integer({ min: 1, max: 200 }),
      (t, remaining, alpha, modules) => {
        const k = thresholdK(alpha, remaining, { ...t, modules });
        assert.ok(Number.isInteger(k) && k >= 1 && k <= modules);
        if (!t.allowOvershoot) assert.ok(k <= Math.ceil(remaining / t.deltaRank));
      },
    ),
  );
});

Deno.test("thresholdK() gives k = 0 whenever R ≤ 0, overshoot allowed or not", () => {
  fc.assert(
    fc.property(
      thresholdArb(),
      fc.integer({ min: -10_000, max: 0 }),
      fc.double({ min: 0, max: 1, noNaN: true, minExcluded: true }),
      fc.integer({ min: 1, max: 200 }),
      (t, remaining, alpha, modules) => {
        assert.equal(thresholdK(alpha, remaining, { ...t, modules }), 0);
      },
    ),
  );
});
