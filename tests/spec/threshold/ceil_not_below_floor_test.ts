/**
 * Rounding (docs/METHOD.md §7): the paper writes `ceil`, the code uses `floor` (our default). At the
 * same `R` and `α`, `ceil` grants at least as many modules as `floor` and at most one more.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { thresholdArb } from "../../arbitraries.ts";
import { planAllocation, thresholdK } from "../../../core/mod.ts";

Deno.test("thresholdK() ceil grants ≥ floor: RTE nonlinear example", () => {
  // Arrange: 504^(100/3800) ≈ 1.18 → floor 1, ceil 2
  const o = { modules: 72, deltaRank: 4, threshold: "nonlinear" } as const;
  assert.equal(thresholdK(100 / 3800, 504, o), 1);
  assert.equal(thresholdK(100 / 3800, 504, { ...o, rounding: "ceil" }), 2);
  // a whole run: ceil front-loads and finishes earlier than the code's floor (step 2300)
  const rte = {
    matrices: 72,
    initRank: 1,
    refRank: 8,
    deltaRank: 4,
    initWarmup: 100,
    interval: 100,
    totalSteps: 3900,
    threshold: "nonlinear",
  } as const;
  const ceil = planAllocation({ ...rte, rounding: "ceil" });
  assert.deepEqual(ceil.slice(0, 4).map((e) => e.k), [2, 2, 2, 2]);
  assert.equal(planAllocation(rte).at(-1)?.step, 2300);
  assert.ok((ceil.at(-1)?.step ?? Infinity) < 2300);
});

Deno.test("thresholdK() with ceil grants at least floor's k and at most one more", () => {
  fc.assert(
    fc.property(
      thresholdArb(),
      fc.integer({ min: 1, max: 10_000 }),
      fc.double({ min: 0, max: 1, noNaN: true, minExcluded: true }),
      fc.integer({ min: 1, max: 200 }),
      (t, remaining, alpha, modules) => {
        const o = { ...t, modules };
        const floor = thresholdK(alpha, remaining, { ...o, rounding: "floor" });
        const ceil = thresholdK(alpha, remaining, { ...o, rounding: "ceil" });
        assert.ok(floor <= ceil && ceil <= floor + 1, `floor ${floor}, ceil ${ceil}`);
      },
    ),
  );
});
