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
  allocate,
  candidateSteps,
  growRanks,
  importanceScores,
  parseTriAdaptConfig,
  planAllocation,
  selectTopK,
} from "../../../core/mod.ts";

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
