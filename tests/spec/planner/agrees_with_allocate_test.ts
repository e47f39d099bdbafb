import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";
import {
  allocate,
  createRankState,
  parseTriAdaptConfig,
  planAllocation,
} from "../../../core/mod.ts";

Deno.test("allocate() follows the planner's events whatever the scores: RTE example", () => {
  // Arrange: the RTE schedule with two opposite score patterns
  const config = parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 });
  const modules = Array.from({ length: 72 }, (_, i) => `m${i}`);
  const ks = (norm: (i: number, step: number) => number): number[] => {
    let state = createRankState({ modules, initRank: 1, refRank: 8 });
    let previous: readonly number[] = modules.map(() => 0);
    const out: number[] = [];
    for (let step = 100; step <= 3900; step += 100) {
      const d = allocate(state, modules.map((_, i) => norm(i, step)), previous, step, config);
      if (d.event) out.push(d.k);
      state = d.state;
      previous = d.previous;
    }
    return out;
  };
  // Act / Assert
  const expected = [13, 23, 28, 26, 18, 11, 5, 1, 1];
  assert.deepEqual(ks((i) => i), expected);
  assert.deepEqual(ks((i, step) => (step * (72 - i)) % 17), expected);
});

Deno.test("allocate() follows the planner's events whatever the scores (scores do not change k)", () => {
  fc.assert(
    fc.property(allocationCaseArb(), (c) => {
      // Arrange
      const { state, config } = c;
      const plan = planAllocation({
        ...config,
        matrices: state.modules.length,
        initRank: state.ranks[0] ?? 1,
        refRank: state.budget0 / state.modules.length,
      });
      // Act
      const events = runAllocation(c).filter((s) => s.decision.event);
      // Assert
      assert.deepEqual(
        events.map((s) => [s.step, s.decision.k, s.decision.state.remaining]),
        plan.map((e) => [e.step, e.k, e.remainingAfter]),
      );
      events.forEach((s, i) =>
        assert.deepEqual(s.decision.grown.map((g) => g.amount), plan[i]?.grants)
      );
    }),
  );
});
