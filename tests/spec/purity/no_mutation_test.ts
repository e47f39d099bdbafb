/**
 * Every argument is deep-frozen (so a write would throw in strict mode) and compared with a
 * structural copy afterwards.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import {
  adaloraBudgetConfigArb,
  allocationCaseArb,
  clone,
  deepFreeze,
  planConfigArb,
  rankStateArb,
} from "../../arbitraries.ts";
import {
  adaloraBudget,
  adaloraBudgetConfig,
  allocate,
  allocationAlpha,
  candidateSteps,
  createRankState,
  grantAmounts,
  grow,
  growRanks,
  importanceScores,
  isAllocationStep,
  lrMultiplier,
  normalisedNorms,
  parseAdaLoraConfig,
  parseIncreLoraConfig,
  parseLoraConfig,
  parseTriAdaptConfig,
  planAllocation,
  rankStateToJson,
  scoreDifference,
  selectTopK,
  thresholdK,
} from "../../../core/mod.ts";

Deno.test("allocate() does not mutate its inputs: example", () => {
  // Arrange: deep-frozen arguments (a write would throw in strict mode)
  const state = deepFreeze(createRankState({ modules: ["a", "b"], initRank: 1, refRank: 3 }));
  const norms = deepFreeze([2, 1]);
  const previous = deepFreeze([0, 0]);
  const config = deepFreeze({
    initWarmup: 0,
    interval: 1,
    totalSteps: 2,
    threshold: "linear" as const,
    deltaRank: 1,
  });
  // Act
  const d = allocate(state, norms, previous, 1, config);
  // Assert
  assert.deepEqual(d.state.ranks, [2, 2]); // k = ⌊4 · 0.5⌋ = 2
  assert.deepEqual(state.ranks, [1, 1]);
  assert.deepEqual([norms, previous], [[2, 1], [0, 0]]);
});

Deno.test("allocate() does not mutate its inputs", () => {
  fc.assert(
    fc.property(allocationCaseArb(), fc.nat(), (c, which) => {
      const steps = candidateSteps(c.config);
      const args = deepFreeze(clone({
        state: c.state,
        norms: c.norms[0] ?? [],
        previous: c.previous,
        step: steps[which % steps.length] ?? 1,
        config: c.config,
      }));
      const copy = clone(args);
      allocate(args.state, args.norms, args.previous, args.step, args.config);
      assert.deepEqual(args, copy);
    }),
  );
});

Deno.test("growRanks(), selectTopK() and importanceScores() do not mutate their inputs", () => {
  fc.assert(
    fc.property(rankStateArb(), fc.nat(), (state, i) => {
      const frozen = deepFreeze(clone(state));
      const grants = deepFreeze([{ index: i % state.modules.length, amount: 1 }]);
      if (state.remaining > 0) growRanks(frozen, grants);
      growRanks(frozen, grants, { allowOvershoot: true });
      const scores = deepFreeze(frozen.ranks.map((r, j) => r - j));
      selectTopK(scores, scores.length);
      const input = deepFreeze({
        norms: [...frozen.ranks],
        ranks: [...frozen.ranks],
        previousNorms: [...frozen.ranks],
        previousRanks: [...frozen.ranks],
      });
      importanceScores(input, "sqrt");
      assert.deepEqual(frozen, state);
      assert.deepEqual(scores, state.ranks.map((r, j) => r - j));
    }),
  );
});

Deno.test("planAllocation(), adaloraBudget() and parseTriAdaptConfig() do not mutate their inputs", () => {
  fc.assert(
    fc.property(planConfigArb(), adaloraBudgetConfigArb(), fc.nat(5000), (plan, budget, step) => {
      const p = deepFreeze(clone(plan));
      const b = deepFreeze(clone(budget));
      planAllocation(p);
      adaloraBudget(step, b);
      const raw = deepFreeze({
        initWarmup: p.initWarmup,
        interval: p.interval,
        totalSteps: p.totalSteps,
      });
      parseTriAdaptConfig(raw);
      assert.deepEqual(p, plan);
      assert.deepEqual(b, budget);
    }),
  );
});

Deno.test("the remaining core functions do not mutate their inputs", () => {
  fc.assert(
    fc.property(planConfigArb(), rankStateArb(), fc.nat(5000), (plan, state, step) => {
      // Arrange
      const p = deepFreeze(clone(plan));
      const st = deepFreeze(clone(state));
      const options = deepFreeze({ ...clone(plan), modules: plan.matrices });
      const create = deepFreeze({ modules: [...state.modules], initRank: 1, refRank: 2 });
      const lr = deepFreeze({ birthStep: 3, warmupSteps: 2, totalSteps: 9 });
      const ada = deepFreeze({ tinit: 1, tfinal: 1, deltaT: 1, totalSteps: 9 });
      const incre = deepFreeze({ topH: 2, initWarmup: 1, interval: 1, totalSteps: 9 });
      const lora = deepFreeze({ rank: 4 });
      // Act
      thresholdK(0.5, 10, options);
      grantAmounts(1, 10, options);
      isAllocationStep(step, p, 1);
      allocationAlpha(step, p);
      candidateSteps(p);
      normalisedNorms(st.ranks, st.ranks, "sqrt");
      scoreDifference(st.ranks, st.ranks);
      createRankState(create);
      if (st.remaining > 0) grow(st, [0], 1);
      grow(st, [0], 1, { allowOvershoot: true });
      rankStateToJson(st);
      lrMultiplier(step, lr);
      adaloraBudgetConfig(parseAdaLoraConfig(ada), 3);
      parseIncreLoraConfig(incre);
      parseLoraConfig(lora);
      // Assert
      assert.deepEqual(p, plan);
      assert.deepEqual(st, state);
      assert.deepEqual(options, { ...plan, modules: plan.matrices });
      assert.deepEqual(create.modules, state.modules);
      assert.deepEqual([lr, ada, incre, lora], [
        { birthStep: 3, warmupSteps: 2, totalSteps: 9 },
        { tinit: 1, tfinal: 1, deltaT: 1, totalSteps: 9 },
        { topH: 2, initWarmup: 1, interval: 1, totalSteps: 9 },
        { rank: 4 },
      ]);
    }),
  );
});
