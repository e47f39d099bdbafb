/**
 * Selection inside a decision (docs/METHOD.md §8): the `k` modules with the highest eq. 11 scores
 * grow, listed best first, ties by module order; the grant order matters because the last one
 * receives the remainder.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";
import { allocate, createRankState } from "../../../core/mod.ts";

Deno.test("allocate() grows the k highest scores, best first: example", () => {
  // Arrange: the largest norm (c) shrank since the last event, b grew the most
  const state = createRankState({ modules: ["a", "b", "c", "d"], initRank: 1, refRank: 3 });
  const config = {
    initWarmup: 0,
    interval: 1,
    totalSteps: 4,
    threshold: "fixed",
    topH: 3,
    deltaRank: 3,
  } as const;
  // Act: R = 8, so k = min(3, ⌈8/3⌉) = 3 and the third grant is the remainder 2
  const d = allocate(state, [2, 5, 9, 1], [1, 1, 10, 0], 1, config);
  // Assert: scores [1, 4, −1, 1]: b first, then a and d tied (a is earlier)
  assert.deepEqual(d.scores, [1, 4, -1, 1]);
  assert.deepEqual(d.grown.map((g) => [g.module, g.amount]), [["b", 3], ["a", 3], ["d", 2]]);
  assert.deepEqual(d.state.ranks, [4, 4, 1, 3]);
});

Deno.test("allocate() grows k modules whose scores are ≥ every other score, best first, ties by module order", () => {
  fc.assert(
    fc.property(allocationCaseArb(), (c) => {
      for (const { decision: d } of runAllocation(c)) {
        const grown = d.grown.map((g) => g.index);
        assert.equal(new Set(grown).size, d.k);
        const score = (i: number): number => d.scores[i] ?? Number.NaN;
        for (let j = 1; j < grown.length; j++) {
          const [prev, cur] = [grown[j - 1] ?? 0, grown[j] ?? 0];
          assert.ok(score(prev) > score(cur) || (score(prev) === score(cur) && prev < cur));
        }
        const last = grown.at(-1);
        if (last === undefined) continue;
        d.scores.forEach((s, i) => {
          if (grown.includes(i)) return;
          assert.ok(s < score(last) || (s === score(last) && i > last));
        });
      }
    }),
  );
});
