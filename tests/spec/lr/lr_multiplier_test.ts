import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { lrMultiplier } from "../../../core/mod.ts";

Deno.test("lrMultiplier() matches get_linear_schedule_with_warmup at birth 0: example", () => {
  // transformers: step < W → step / W; else max(0, (T − step) / (T − W)); W = 10, T = 110
  const o = { birthStep: 0, warmupSteps: 10, totalSteps: 110 };
  assert.deepEqual([0, 5, 10, 60, 110, 120].map((s) => lrMultiplier(s, o)), [0, 0.5, 1, 0.5, 0, 0]);
  // no warm-up: 1 at the birth step
  assert.equal(lrMultiplier(7, { birthStep: 7, warmupSteps: 0, totalSteps: 17 }), 1);
});

Deno.test("lrMultiplier() rises linearly from 0 at birth to 1 after warm-up, then falls to 0 at T", () => {
  fc.assert(
    fc.property(
      fc.nat(1000),
      fc.nat(200),
      fc.integer({ min: 1, max: 2000 }),
      fc.nat(4000),
      (birthStep, warmupSteps, span, step) => {
        const o = { birthStep, warmupSteps, totalSteps: birthStep + warmupSteps + span };
        const m = lrMultiplier(step, o);
        assert.ok(m >= 0 && m <= 1);
        if (step < birthStep || step >= o.totalSteps) assert.equal(m, 0);
        if (warmupSteps > 0) assert.equal(lrMultiplier(birthStep, o), 0);
        assert.equal(lrMultiplier(birthStep + warmupSteps, o), 1);
        // piecewise monotone: non-decreasing in warm-up, non-increasing after
        const next = lrMultiplier(step + 1, o);
        if (step >= birthStep && step + 1 <= birthStep + warmupSteps) assert.ok(next >= m);
        if (step >= birthStep + warmupSteps) assert.ok(next <= m);
      },
    ),
  );
});
