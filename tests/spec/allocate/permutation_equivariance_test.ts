/**
 * Equivariance holds when scores are distinct; with ties, selection follows module order
 * ([ours], docs/METHOD.md §8), which a permutation changes by design (see the example). The
 * property therefore builds scores that are distinct by construction: normalised norms are
 * distinct integers and previous values lie in [0, 0.5).
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { rankStateArb, scheduleArb, separatedScoresArb, thresholdArb } from "../../arbitraries.ts";
import {
  allocate,
  candidateSteps,
  createRankState,
  type Normalisation,
  type RankState,
  rankStateFromJson,
} from "../../../core/mod.ts";

function permuteState(state: RankState, perm: readonly number[]): RankState {
  return rankStateFromJson(JSON.stringify({
    modules: perm.map((p) => state.modules[p]),
    ranks: perm.map((p) => state.ranks[p]),
    total: state.total,
    budget0: state.budget0,
    remaining: state.remaining,
  }));
}

function divisor(r: number, n: Normalisation): number {
  return n === "rank" ? r : n === "sqrt" ? Math.sqrt(r) : 1;
}

Deno.test("allocate() with tied scores prefers the earlier module, so order matters only for ties", () => {
  const config = {
    initWarmup: 0,
    interval: 1,
    totalSteps: 10,
    threshold: "fixed",
    topH: 1,
    deltaRank: 1,
  } as const;
  const a = createRankState({ modules: ["x", "y"], initRank: 1, refRank: 2 });
  const b = createRankState({ modules: ["y", "x"], initRank: 1, refRank: 2 });
  assert.deepEqual(allocate(a, [1, 1], [0, 0], 1, config).grown.map((g) => g.module), ["x"]);
  assert.deepEqual(allocate(b, [1, 1], [0, 0], 1, config).grown.map((g) => g.module), ["y"]);
});

Deno.test("allocate() is permutation-equivariant: permuting modules permutes the decision", () => {
  fc.assert(
    fc.property(
      rankStateArb(1, 20).chain((state) => {
        const m = state.modules.length;
        return fc.record({
          state: fc.constant(state),
          separated: separatedScoresArb(m),
          perm: fc.shuffledSubarray([...Array(m).keys()], { minLength: m, maxLength: m }),
          schedule: scheduleArb(),
          threshold: thresholdArb(),
          normalisation: fc.constantFrom<Normalisation>("rank", "sqrt", "none"),
          which: fc.nat(),
        });
      }),
      ({ state, separated, perm, schedule, threshold, normalisation, which }) => {
        const { values, previous } = separated;
        // Arrange
        const config = { ...schedule, ...threshold, normalisation };
        const steps = candidateSteps(schedule);
        const step = steps[which % steps.length] ?? 1;
        const norms = values.map((v, i) => v * divisor(state.ranks[i] ?? 1, normalisation));
        const pick = <T>(xs: readonly T[]): T[] => perm.map((p) => xs[p] as T);
        // Act
        const d = allocate(state, norms, previous, step, config);
        const dp = allocate(permuteState(state, perm), pick(norms), pick(previous), step, config);
        // Assert
        assert.equal(dp.k, d.k);
        assert.deepEqual(
          dp.grown.map((g) => [g.module, g.amount]),
          d.grown.map((g) => [g.module, g.amount]),
        );
        assert.deepEqual(dp.state.ranks, pick(d.state.ranks));
        assert.deepEqual(dp.scores, pick(d.scores));
        assert.deepEqual(dp.previous, pick(d.previous));
      },
    ),
  );
});
