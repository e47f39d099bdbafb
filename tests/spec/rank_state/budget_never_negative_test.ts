import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, rankStateArb, runAllocation } from "../../arbitraries.ts";
import { createRankState, growRanks } from "../../../core/mod.ts";

Deno.test("growRanks() never leaves a negative budget: example", () => {
  // Arrange: R0 = 8, R = 6
  const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 4 });
  // Act / Assert: spending exactly R is fine, one more unit is refused
  assert.equal(growRanks(state, [{ index: 0, amount: 6 }]).remaining, 0);
  assert.throws(
    () => growRanks(state, [{ index: 0, amount: 4 }, { index: 1, amount: 3 }]),
    { name: "RangeError", message: /remaining budget 6: current value is 7/ },
  );
});

Deno.test("growRanks() never leaves a negative budget without allowOvershoot", () => {
  fc.assert(
    fc.property(rankStateArb(), fc.nat(), fc.integer({ min: 1, max: 40 }), (state, i, amount) => {
      // Arrange
      const grant = { index: i % state.modules.length, amount };
      // Act
      let result: number | RangeError;
      try {
        result = growRanks(state, [grant]).remaining;
      } catch (e) {
        result = e as RangeError;
      }
      // Assert: either the budget stays >= 0 or the grant was refused as overspending
      if (typeof result === "number") assert.ok(result >= 0);
      else {
        assert.ok(result instanceof RangeError);
        assert.ok(amount > state.remaining);
      }
    }),
  );
});

Deno.test("allocate() never makes the budget negative over a whole run without allowOvershoot", () => {
  fc.assert(
    fc.property(allocationCaseArb(false), (c) => {
      for (const { decision } of runAllocation(c)) assert.ok(decision.state.remaining >= 0);
    }),
  );
});
