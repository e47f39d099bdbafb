import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb } from "../../arbitraries.ts";
import { planAllocation } from "../../../core/mod.ts";

Deno.test("planAllocation() is deterministic for linear and nonlinear thresholds", () => {
  fc.assert(
    fc.property(planConfigArb(), fc.constantFrom("linear", "nonlinear" as const), (base, t) => {
      const config = { ...base, threshold: t };
      assert.deepEqual(planAllocation(config), planAllocation({ ...config }));
    }),
  );
});
