import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb } from "../../arbitraries.ts";
import { candidateSteps, planAllocation } from "../../../core/mod.ts";

Deno.test("planAllocation() ends exactly at R0: example where the clamp binds", () => {
  // R = 10 with Δr = 4: k = min(⌊10·α⌋…, ⌈10/4⌉ = 3); the third module receives the remaining 2
  const config = {
    matrices: 5,
    initRank: 1,
    refRank: 3,
    deltaRank: 4,
    initWarmup: 0,
    interval: 1,
    totalSteps: 2,
    threshold: "fixed",
    topH: 5,
  } as const;
  const [event] = planAllocation(config);
  assert.deepEqual(event?.grants, [4, 4, 2]);
  assert.equal(event?.remainingAfter, 0);
  // the reference code overshoots: 5 · 4 = 20 > 10
  const [over] = planAllocation({ ...config, allowOvershoot: true });
  assert.deepEqual(over?.grants, [4, 4, 4, 4, 4]);
  assert.equal(over?.remainingAfter, -10);
});

Deno.test("planAllocation() after the last event of a run that reaches the budget, total == R0 exactly", () => {
  fc.assert(
    fc.property(planConfigArb(false), (config) => {
      const events = planAllocation(config);
      const last = events.at(-1);
      const r = (config.refRank - config.initRank) * config.matrices;
      if (last !== undefined && last.remainingAfter <= 0) assert.equal(last.remainingAfter, 0);
      // a run that does not reach the budget has used every candidate step up to T
      if ((last?.remainingAfter ?? r) > 0) {
        assert.equal(events.length, candidateSteps(config).length);
      }
      const granted = events.reduce((a, e) => a + e.grants.reduce((x, y) => x + y, 0), 0);
      const r0 = config.refRank * config.matrices;
      assert.ok(config.initRank * config.matrices + granted <= r0);
    }),
  );
});
