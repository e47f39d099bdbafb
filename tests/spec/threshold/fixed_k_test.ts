/**
 * Fixed-k threshold (IncreLoRA's constant per event, docs/METHOD.md §7): `k = topH` whatever `α`,
 * then the same clamps as every mode: `min(k, M)` and, without overshoot, `min(k, ⌈R/Δr⌉)`.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planAllocation, thresholdK } from "../../../core/mod.ts";

Deno.test("thresholdK() fixed is min(topH, M, ⌈R/Δr⌉): RTE example with topH 9", () => {
  // 504 / (9 · 4) = 14 events of k = 9, the budget spent exactly
  const events = planAllocation({
    matrices: 72,
    initRank: 1,
    refRank: 8,
    deltaRank: 4,
    initWarmup: 100,
    interval: 100,
    totalSteps: 3900,
    threshold: "fixed",
    topH: 9,
  });
  assert.equal(events.length, 14);
  assert.ok(events.every((e) => e.k === 9 && e.grants.every((g) => g === 4)));
  assert.equal(events.at(-1)?.step, 1500);
  assert.equal(events.at(-1)?.remainingAfter, 0);
});

Deno.test("thresholdK() fixed is min(topH, M, ⌈R/Δr⌉) whatever α and rounding", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.integer({ min: 1, max: 8 }),
      fc.double({ min: 0, max: 1, noNaN: true, minExcluded: true }),
      fc.constantFrom("floor" as const, "ceil" as const),
      fc.boolean(),
      (topH, modules, remaining, deltaRank, alpha, rounding, allowOvershoot) => {
        const k = thresholdK(alpha, remaining, {
          threshold: "fixed",
          topH,
          modules,
          deltaRank,
          rounding,
          allowOvershoot,
        });
        const cap = allowOvershoot ? Infinity : Math.ceil(remaining / deltaRank);
        assert.equal(k, Math.min(topH, modules, cap));
      },
    ),
  );
});
