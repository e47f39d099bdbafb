import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb } from "../../arbitraries.ts";
import { planAllocation } from "../../../core/mod.ts";

Deno.test("planAllocation() is deterministic: RTE example", () => {
  const rte = {
    matrices: 72,
    initRank: 1,
    refRank: 8,
    deltaRank: 4,
    initWarmup: 100,
    interval: 100,
    totalSteps: 3900,
  };
  for (const threshold of ["linear", "nonlinear"] as const) {
    const first = planAllocation({ ...rte, threshold });
    const again = planAllocation({ ...rte, threshold });
    assert.notEqual(first, again); // a fresh array each time…
    assert.deepEqual(first, again); // …with the same events
  }
});

Deno.test("planAllocation() is deterministic for linear and nonlinear thresholds", () => {
  fc.assert(
    fc.property(planConfigArb(), fc.constantFrom("linear", "nonlinear" as const), (base, t) => {
      const config = { ...base, threshold: t };
      assert.deepEqual(planAllocation(config), planAllocation({ ...config }));
    }),
  );
});
