/**
 * `grow(state, selected, Δr)` (issue 2, item 1): each selected module gains `Δr`; without
 * `allowOvershoot` the last (lowest-scored) one gains only the remainder when `k·Δr > R`, so the
 * spend is exactly `min(k·Δr, R)` and the input state is left as it was.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { rankStateArb } from "../../arbitraries.ts";
import { createRankState, grow, growRanks } from "../../../core/mod.ts";

Deno.test("grow() spends Δr per selected module, the remainder last: example", () => {
  // Arrange: R0 = 12, R = 8
  const state = createRankState({ modules: ["q", "k", "v", "o"], initRank: 1, refRank: 3 });
  // Act / Assert
  assert.deepEqual(grow(state, [3, 1], 2).ranks, [1, 3, 1, 3]);
  assert.deepEqual(grow(state, [3, 1, 0], 3).ranks, [3, 4, 1, 4]); // 3 + 3 + remainder 2
  assert.equal(grow(state, [3, 1, 0], 3).remaining, 0);
  assert.deepEqual(grow(state, [3, 1, 0], 3, { allowOvershoot: true }).ranks, [4, 4, 1, 4]);
  assert.equal(grow(state, [3, 1, 0], 3, { allowOvershoot: true }).remaining, -1);
  assert.throws(() => grow(state, [0, 1, 2], 4), {
    name: "RangeError",
    message: /k must be <= ⌈R\/Δr⌉ = 2: current value is 3/,
  });
  assert.deepEqual(state.ranks, [1, 1, 1, 1]);
});

Deno.test("grow() spends exactly min(k·Δr, R) and only on the selected modules", () => {
  fc.assert(
    fc.property(
      rankStateArb(1, 24).chain((state) => {
        const m = state.modules.length;
        return fc.record({
          state: fc.constant(state),
          deltaR: fc.integer({ min: 1, max: 8 }),
          order: fc.shuffledSubarray([...Array(m).keys()], { minLength: m, maxLength: m }),
          take: fc.nat(m),
        });
      }),
      ({ state, deltaR, order, take }) => {
        // Arrange: at most ⌈R/Δr⌉ distinct modules (none when the budget is spent)
        const k = Math.min(take, Math.max(0, Math.ceil(state.remaining / deltaR)));
        const selected = order.slice(0, k);
        // Act
        const next = grow(state, selected, deltaR);
        // Assert
        assert.equal(next.total - state.total, Math.min(k * deltaR, Math.max(0, state.remaining)));
        next.ranks.forEach((r, i) => {
          const old = state.ranks[i] ?? 0;
          if (selected.includes(i)) assert.ok(r > old && r <= old + deltaR);
          else assert.equal(r, old);
        });
        selected.slice(0, -1).forEach((i) =>
          assert.equal(next.ranks[i], (state.ranks[i] ?? 0) + deltaR)
        );
        assert.deepEqual(
          next,
          growRanks(
            state,
            selected.map((index) => ({
              index,
              amount: (next.ranks[index] ?? 0) - (state.ranks[index] ?? 0),
            })),
          ),
        );
      },
    ),
  );
});
