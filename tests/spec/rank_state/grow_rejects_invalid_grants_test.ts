import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { rankStateArb } from "../../arbitraries.ts";
import { createRankState, growRanks } from "../../../core/mod.ts";

Deno.test("growRanks() rejects repeated, out-of-range and non-integer grants: examples", () => {
  const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 8 });
  assert.throws(() => growRanks(state, [{ index: 1, amount: 1 }, { index: 1, amount: 1 }]), {
    name: "RangeError",
    message: /grant indices must be distinct: current value 1 repeats/,
  });
  assert.throws(() => growRanks(state, [{ index: 2, amount: 1 }]), {
    name: "RangeError",
    message: /grants\[0\]\.index must be < 2: current value is 2/,
  });
  assert.throws(() => growRanks(state, [{ index: 0, amount: 1.5 }]), {
    name: "RangeError",
    message: /grants\[0\]\.amount must be a positive integer: current value is 1.5/,
  });
  assert.throws(() => growRanks(state, [{ index: 0, amount: 0 }]), RangeError);
});

Deno.test("growRanks() rejects any grant list that names a module twice", () => {
  fc.assert(
    fc.property(rankStateArb(1, 24), fc.nat(), fc.nat(), (state, i, j) => {
      // Arrange: two one-unit grants to the same module (the budget is not the reason)
      const index = i % state.modules.length;
      const grants = [{ index, amount: 1 }, { index: j % state.modules.length, amount: 1 }, {
        index,
        amount: 1,
      }];
      // Act / Assert
      assert.throws(() => growRanks(state, grants, { allowOvershoot: true }), {
        name: "RangeError",
        message: /distinct/,
      });
    }),
  );
});
