/**
 * Scaling by a power of two is exact in binary floating point (no overflow or underflow in our
 * ranges), so the law can assert equality of selections, ties included. A general c > 0 can
 * reorder scores that differ in the last bit; that is rounding, not the law.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { normsArb, separatedScoresArb } from "../../arbitraries.ts";
import { importanceScores, type Normalisation, selectTopK } from "../../../core/mod.ts";

/** Values below 1e-250 become 0, so that scaled quotients and differences stay normal floats. */
function noTiny(xs: number[]): number[] {
  return xs.map((x) => (x < 1e-250 ? 0 : x));
}

Deno.test("importanceScores() scale invariance: example", () => {
  const input = {
    norms: [3, 2, 5],
    ranks: [1, 2, 4],
    previousNorms: [1, 4, 1],
    previousRanks: [1, 2, 4],
  };
  const scaled = {
    ...input,
    norms: input.norms.map((n) => 7 * n),
    previousNorms: input.previousNorms.map((n) => 7 * n),
  };
  assert.deepEqual(selectTopK(importanceScores(input), 2), [0, 2]);
  assert.deepEqual(selectTopK(importanceScores(scaled), 2), [0, 2]);
});

Deno.test("importanceScores() selection is unchanged by scaling all norms by c > 0 (rank, sqrt, none)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }).chain((m) =>
        fc.record({
          norms: normsArb(m).map(noTiny),
          previousNorms: normsArb(m).map(noTiny),
          ranks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: m, maxLength: m }),
          previousRanks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: m, maxLength: m }),
          k: fc.integer({ min: 0, max: m }),
        })
      ),
      fc.integer({ min: -30, max: 30 }),
      fc.constantFrom<Normalisation>("rank", "sqrt", "none"),
      ({ k, ...input }, exponent, normalisation) => {
        const c = 2 ** exponent;
        const scaled = {
          ...input,
          norms: input.norms.map((n) => c * n),
          previousNorms: input.previousNorms.map((n) => c * n),
        };
        assert.deepEqual(
          selectTopK(importanceScores(scaled, normalisation), k),
          selectTopK(importanceScores(input, normalisation), k),
        );
      },
    ),
  );
});

Deno.test("importanceScores() selection is unchanged by any c > 0 when scores are well separated", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }).chain((m) =>
        fc.record({
          separated: separatedScoresArb(m),
          ranks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: m, maxLength: m }),
          k: fc.integer({ min: 0, max: m }),
        })
      ),
      fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      fc.constantFrom<Normalisation>("rank", "sqrt", "none"),
      ({ separated: { values, previous }, ranks, k }, c, normalisation) => {
        // Arrange: normalised norms are distinct integers, previous ones lie in [0, 0.5)
        const n = (r: number): number =>
          normalisation === "rank" ? r : normalisation === "sqrt" ? Math.sqrt(r) : 1;
        const input = {
          norms: values.map((v, i) => v * n(ranks[i] ?? 1)),
          ranks,
          previousNorms: previous,
          previousRanks: ranks.map(() => 1),
        };
        const scaled = {
          ...input,
          norms: input.norms.map((x) => c * x),
          previousNorms: previous.map((x) => c * x),
        };
        // Act / Assert
        assert.deepEqual(
          selectTopK(importanceScores(scaled, normalisation), k),
          selectTopK(importanceScores(input, normalisation), k),
        );
      },
    ),
  );
});
