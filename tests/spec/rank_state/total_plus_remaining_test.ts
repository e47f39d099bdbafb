import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, rankStateArb, runAllocation } from "../../arbitraries.ts";
import { createRankState } from "../../../core/mod.ts";

Deno.test("createRankState() starts with total + R = R0: RTE example", () => {
  const modules = Array.from({ length: 72 }, (_, i) => `m${i}`);
  const state = createRankState({ modules, initRank: 1, refRank: 8 });
  assert.equal(state.budget0, 576);
  assert.equal(state.total, 72);
  assert.equal(state.remaining, 504);
});

Deno.test("RankState always has total = sum(ranks) and total + R = R0", () => {
  fc.assert(
    fc.property(rankStateArb(), (state) => {
      assert.equal(state.total, state.ranks.reduce((a, b) => a + b, 0));
      assert.equal(state.total + state.remaining, state.budget0);
    }),
  );
});

Deno.test("allocate() keeps total + R = R0 at every step, overshoot allowed or not", () => {
  fc.assert(
    fc.property(allocationCaseArb(), (c) => {
      for (const { decision } of runAllocation(c)) {
        const s = decision.state;
        assert.equal(s.total, s.ranks.reduce((a, b) => a + b, 0));
        assert.equal(s.total + s.remaining, s.budget0);
        assert.equal(s.budget0, c.state.budget0);
      }
    }),
  );
});
