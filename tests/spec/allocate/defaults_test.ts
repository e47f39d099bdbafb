/**
 * `allocate()` takes a plain config; omitted options mean docs/METHOD.md §4–§8 defaults:
 * `normalisation: "rank"`, `rounding: "floor"` (the code's) and `allowOvershoot: false` ([ours]).
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";
import { allocate, createRankState, growRanks } from "../../../core/mod.ts";

Deno.test("allocate() defaults to rank normalisation, floor rounding and no overshoot: example", () => {
  // Arrange: R = 6, Δr = 4, α = 0.5, fixed topH 3 → k = min(3, ⌈6/4⌉ = 2)
  const state = createRankState({ modules: ["a", "b", "c"], initRank: 1, refRank: 3 });
  const bare = { initWarmup: 0, interval: 1, totalSteps: 2, threshold: "fixed", topH: 3 } as const;
  // Act
  const d = allocate(state, [2, 2, 2], [0, 0, 0], 1, { ...bare, deltaRank: 4 });
  // Assert: no overshoot, the second module gets the remainder 2
  assert.deepEqual(d.grown.map((g) => g.amount), [4, 2]);
  assert.equal(d.state.remaining, 0);
  // rank normalisation: ranks [1, 4] → scores 2/1, 4/4 (sqrt would give 4/2, none 4)
  const grown = growRanks(createRankState({ modules: ["a", "b"], initRank: 1, refRank: 9 }), [
    { index: 1, amount: 3 },
  ]);
  const e = allocate(grown, [2, 4], [0, 0], 1, { ...bare, deltaRank: 1 });
  assert.deepEqual(e.scores, [2, 1]);
  // floor: linear R·α = 16 · 0.5 = 8 → ceil would also give 8, so use α = 1/3 → ⌊16/3⌋ = 5
  const wide = createRankState({
    modules: Array.from({ length: 8 }, (_, i) => `m${i}`),
    initRank: 1,
    refRank: 3,
  });
  const linear = { initWarmup: 0, interval: 1, totalSteps: 3, threshold: "linear" } as const;
  assert.equal(allocate(wide, wide.ranks, wide.ranks, 1, { ...linear, deltaRank: 1 }).k, 5);
});

Deno.test("allocate() with options omitted decides exactly as with the explicit defaults", () => {
  fc.assert(
    fc.property(allocationCaseArb(false), (c) => {
      // Arrange: the case's run with explicit defaults, and its config without those options
      const { normalisation: _n, rounding: _r, allowOvershoot: _o, ...bare } = c.config;
      const explicit = runAllocation({
        ...c,
        config: { ...bare, normalisation: "rank", rounding: "floor", allowOvershoot: false },
      });
      // Act / Assert: replay every step with the bare config
      let state = c.state;
      let previous: readonly number[] = c.previous;
      explicit.forEach(({ step, decision }, i) => {
        const norms = c.norms[i % c.norms.length] ?? [];
        const d = allocate(state, norms, previous, step, bare);
        assert.deepEqual(d, decision);
        state = d.state;
        previous = d.previous;
      });
    }),
  );
});
