import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";
import { allocate, createRankState } from "../../../core/mod.ts";

Deno.test("allocate() never decreases a rank: example with negative scores", () => {
  // Arrange: every norm shrank, so every score is negative; two modules still grow
  const state = createRankState({ modules: ["a", "b", "c"], initRank: 2, refRank: 4 });
  const config = {
    initWarmup: 0,
    interval: 1,
    totalSteps: 4,
    threshold: "fixed",
    topH: 2,
    deltaRank: 1,
  } as const;
  // Act
  const d = allocate(state, [1, 2, 3], [5, 5, 5], 1, config);
  // Assert
  assert.ok(d.scores.every((s) => s < 0));
  assert.deepEqual(d.state.ranks, [2, 3, 3]);
});

Deno.test("allocate() never decreases a rank, and grows exactly the granted modules", () => {
  fc.assert(
    fc.property(allocationCaseArb(), (c) => {
      for (const { before, decision } of runAllocation(c)) {
        const granted = new Map(decision.grown.map((g) => [g.index, g.amount]));
        decision.state.ranks.forEach((r, i) => {
          const old = before.ranks[i] ?? Number.NaN;
          assert.ok(r >= old);
          assert.equal(r, old + (granted.get(i) ?? 0));
        });
      }
    }),
  );
});
