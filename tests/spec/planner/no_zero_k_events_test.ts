import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb } from "../../arbitraries.ts";
import { planAllocation } from "../../../core/mod.ts";

Deno.test("planAllocation() never lists an event with k = 0: example where R·α < 1", () => {
  // R = 8 and α = 1/100 at the first event: ⌊0.08⌋ = 0 is lifted to k = 1 (max(k, 1))
  const events = planAllocation({
    matrices: 2,
    initRank: 1,
    refRank: 5,
    deltaRank: 1,
    initWarmup: 0,
    interval: 1,
    totalSteps: 100,
    threshold: "linear",
  });
  assert.deepEqual(events.slice(0, 3).map((e) => [e.step, e.k]), [[1, 1], [2, 1], [3, 1]]);
  assert.ok(events.every((e) => e.k >= 1));
});

Deno.test("planAllocation() never lists an event with k = 0", () => {
  fc.assert(
    fc.property(planConfigArb(), (config) => {
      for (const e of planAllocation(config)) {
        assert.ok(e.k >= 1);
        assert.equal(e.grants.length, e.k);
        assert.ok(e.grants.every((g) => Number.isInteger(g) && g >= 1));
        assert.ok(e.remainingBefore > 0);
        assert.equal(e.remainingAfter, e.remainingBefore - e.grants.reduce((a, b) => a + b, 0));
      }
    }),
  );
});
