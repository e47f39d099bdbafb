import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb } from "../../arbitraries.ts";
import { planAllocation } from "../../../core/mod.ts";

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
