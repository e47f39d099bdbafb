/**
 * docs/METHOD.md §20, `--grants proportional`: the event's units shared by score (D'Hondt), at most
 * doubling a rank per event. Laws: the units are all handed out; no module passes its cap while
 * another is below it; among modules of equal rank a higher positive score never gets fewer units;
 * `allocate` spends exactly the units of the equal rule.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocate, createRankState, proportionalGrants } from "../../../core/mod.ts";

const case_ = fc.integer({ min: 1, max: 10 }).chain((m) =>
  fc.record({
    scores: fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: m, maxLength: m }),
    ranks: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: m, maxLength: m }),
    units: fc.integer({ min: 0, max: 40 }),
  })
);

Deno.test("proportionalGrants() hands out exactly the units it is given", () => {
  fc.assert(
    fc.property(case_, ({ scores, ranks, units }) => {
      const g = proportionalGrants(scores, ranks, units);
      assert.equal(g.reduce((a, b) => a + b, 0), units);
      assert.ok(g.every((x) => Number.isInteger(x) && x >= 0));
    }),
  );
});

Deno.test("proportionalGrants() passes no cap (the current rank) while the caps can hold the units", () => {
  fc.assert(
    fc.property(case_, ({ scores, ranks, units }) => {
      fc.pre(units <= ranks.reduce((a, b) => a + b, 0));
      const g = proportionalGrants(scores, ranks, units);
      g.forEach((x, i) => assert.ok(x <= (ranks[i] as number), `module ${i}: ${x} > ${ranks[i]}`));
    }),
  );
});

Deno.test("proportionalGrants(): at equal rank a higher positive score never gets fewer units", () => {
  fc.assert(
    fc.property(case_, ({ scores, units }) => {
      const ranks = scores.map(() => 40); // caps never bind
      const g = proportionalGrants(scores, ranks, units);
      scores.forEach((s, i) =>
        scores.forEach((t, j) => {
          if (s > t && s > 0) {
            assert.ok((g[i] as number) >= (g[j] as number), `${s}:${g[i]} vs ${t}:${g[j]}`);
          }
        })
      );
    }),
  );
});

Deno.test("proportionalGrants(): a quotient tie from rounding goes to the higher score (subnormal scores)", () => {
  // 5.4e-323/5 and 5e-323/4 round to the same subnormal; the higher score must still not fall behind
  // (fast-check counterexample found in CI on 2026-12-03).
  const g = proportionalGrants([5e-323, 5.4e-323, 0, 0], [40, 40, 40, 40], 9);
  assert.ok((g[1] as number) >= (g[0] as number), `grants ${g}`);
  assert.equal(g[0]! + g[1]!, 9);
});

Deno.test("proportionalGrants() gives nothing to non-positive scores while a positive one has room", () => {
  assert.deepEqual(proportionalGrants([2, -1, 0, 1], [3, 3, 3, 3], 4), [3, 0, 0, 1]);
  assert.deepEqual(proportionalGrants([2, -1, 0, 1], [1, 1, 1, 1], 4), [1, 1, 1, 1]);
  assert.throws(() => proportionalGrants([1], [1, 2], 1), /one value per score/);
});

Deno.test("allocate() with grants proportional spends the same units as the equal rule", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 2, maxLength: 8 }),
      fc.integer({ min: 2, max: 6 }),
      (norms, refRank) => {
        const modules = norms.map((_, i) => `m${i}`);
        const state = createRankState({ modules, initRank: 1, refRank });
        const config = {
          initWarmup: 0,
          interval: 1,
          totalSteps: 4,
          threshold: "linear" as const,
          deltaRank: 2,
          normalisation: "none" as const,
        };
        const previous = norms.map(() => 0);
        const equal = allocate(state, norms, previous, 2, config);
        const prop = allocate(state, norms, previous, 2, { ...config, grants: "proportional" });
        assert.equal(prop.state.remaining, equal.state.remaining);
        assert.deepEqual(prop.scores, equal.scores);
      },
    ),
  );
});
