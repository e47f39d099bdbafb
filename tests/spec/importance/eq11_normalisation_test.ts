/**
 * Eq. 11 (docs/METHOD.md §4): `S_m = ‖D_m(t)‖_F / N(r_m(t)) − ‖D_m(t')‖_F / N(r_m(t'))` with
 * `N(r) = r` ("rank", the default), `sqrt(r)` or `1` ("none"). The property builds norms whose
 * normalised value is known exactly: `‖D‖ = a · N(r)` with `r = q²`, so every `N(r)` is an
 * integer and the division is exact.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { importanceScores, type Normalisation, normalisedNorms } from "../../../core/mod.ts";

Deno.test("importanceScores() is eq. 11 under rank, sqrt and none: example", () => {
  // Arrange: module 0 grew from rank 1 to 4 and its norm from 2 to 8; module 1 kept rank 9
  const input = { norms: [8, 3], ranks: [4, 9], previousNorms: [2, 6], previousRanks: [1, 9] };
  // Act / Assert: rank: 8/4 − 2/1 = 0, 3/9 − 6/9 = −1/3
  assert.deepEqual(importanceScores(input), [0, 3 / 9 - 6 / 9]);
  assert.deepEqual(importanceScores(input, "rank"), importanceScores(input));
  // sqrt: 8/2 − 2/1 = 2, 3/3 − 6/3 = −1
  assert.deepEqual(importanceScores(input, "sqrt"), [2, -1]);
  // none: 8 − 2 = 6, 3 − 6 = −3 (scores may be negative)
  assert.deepEqual(importanceScores(input, "none"), [6, -3]);
});

function n(r: number, normalisation: Normalisation): number {
  return normalisation === "rank" ? r : normalisation === "sqrt" ? Math.sqrt(r) : 1;
}

Deno.test("importanceScores() is the difference of normalised norms ‖D‖/N(r) now and at the previous event", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }).chain((m) => {
        const column = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: m, maxLength: m });
        const roots = fc.array(fc.integer({ min: 1, max: 8 }), { minLength: m, maxLength: m });
        return fc.record({ now: column, before: column, q: roots, qBefore: roots });
      }),
      fc.constantFrom<Normalisation>("rank", "sqrt", "none"),
      ({ now, before, q, qBefore }, normalisation) => {
        // Arrange: r = q², ‖D‖ = a · N(r), so ‖D‖ / N(r) = a exactly
        const ranks = q.map((x) => x * x);
        const previousRanks = qBefore.map((x) => x * x);
        const input = {
          norms: now.map((a, i) => a * n(ranks[i] ?? 1, normalisation)),
          ranks,
          previousNorms: before.map((a, i) => a * n(previousRanks[i] ?? 1, normalisation)),
          previousRanks,
        };
        // Act
        const scores = importanceScores(input, normalisation);
        // Assert
        assert.deepEqual(normalisedNorms(input.norms, ranks, normalisation), now);
        assert.deepEqual(scores, now.map((a, i) => a - (before[i] ?? 0)));
      },
    ),
  );
});
