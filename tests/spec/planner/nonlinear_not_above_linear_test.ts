/**
 * "nonlinear grants ≤ linear at every event for α < 1" holds pointwise (same R, same α) for
 * floor rounding and R ∉ {3}; it is false as literally stated in three ways, pinned below:
 * - per step across two runs: the runs have different R (RTE step 1000: linear k 1, nonlinear 4);
 * - R = 3 (floor): 3^0.65 ≈ 2.04 but 3·0.65 = 1.95;
 * - ceil rounding: any R^α ∈ (1, 2) rounds to 2 while R·α ≤ 1 rounds to 1.
 * Proof sketch of the law: if R^α < 2, ⌊R^α⌋ = 1 ≤ max(⌊Rα⌋, 1). Else α ≥ ln2/lnR, and
 * f(α) = (α−1)·lnR − lnα is convex with f(1) = 0 and f(ln2/lnR) ≤ 0 iff R/lnR ≥ 2/ln2, true for
 * R ≥ 4; so R^α ≤ Rα there. The M and ⌈R/Δr⌉ clamps are monotone, so they keep the order.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planAllocation, thresholdK } from "../../../core/mod.ts";

const opts = { modules: 1000, deltaRank: 1 } as const;

Deno.test("thresholdK() nonlinear ≤ linear: counterexamples outside the law's domain", () => {
  assert.equal(thresholdK(0.65, 3, { ...opts, threshold: "nonlinear" }), 2);
  assert.equal(thresholdK(0.65, 3, { ...opts, threshold: "linear" }), 1);
  const ceil = { ...opts, rounding: "ceil" } as const;
  assert.equal(thresholdK(0.005, 100, { ...ceil, threshold: "nonlinear" }), 2);
  assert.equal(thresholdK(0.005, 100, { ...ceil, threshold: "linear" }), 1);
  const rte = {
    matrices: 72,
    initRank: 1,
    refRank: 8,
    deltaRank: 4,
    initWarmup: 100,
    interval: 100,
    totalSteps: 3900,
  };
  const lin = planAllocation({ ...rte, threshold: "linear" });
  const non = planAllocation({ ...rte, threshold: "nonlinear" });
  assert.equal(lin.find((e) => e.step === 1000)?.k, 1);
  assert.equal(non.find((e) => e.step === 1000)?.k, 4);
});

Deno.test("thresholdK() nonlinear grants ≤ linear at the same R and α < 1 (floor, R ≠ 3)", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 4, max: 100_000 })),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true, minExcluded: true }),
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 1, max: 8 }),
      fc.boolean(),
      (remaining, alpha, modules, deltaRank, allowOvershoot) => {
        const o = { modules, deltaRank, allowOvershoot, rounding: "floor" } as const;
        const non = thresholdK(alpha, remaining, { ...o, threshold: "nonlinear" });
        const lin = thresholdK(alpha, remaining, { ...o, threshold: "linear" });
        assert.ok(non <= lin, `nonlinear ${non} > linear ${lin}`);
      },
    ),
  );
});

Deno.test("planAllocation() nonlinear has spent ≤ linear after every RTE-like event", () => {
  // The cumulative form, checked on the paper's schedules (floor): linear front-loads.
  for (const [t0, dr] of [[100, 4], [1000, 1], [500, 4], [1000, 4]] as const) {
    const base = {
      matrices: 72,
      initRank: 1,
      refRank: 8,
      deltaRank: dr,
      initWarmup: t0,
      interval: t0,
      totalSteps: 40 * t0,
    };
    const lin = planAllocation({ ...base, threshold: "linear" });
    const non = planAllocation({ ...base, threshold: "nonlinear" });
    const left = (events: typeof lin, step: number): number =>
      events.filter((e) => e.step <= step).at(-1)?.remainingAfter ?? 504;
    for (const e of non) assert.ok(left(non, e.step) >= left(lin, e.step));
  }
});
