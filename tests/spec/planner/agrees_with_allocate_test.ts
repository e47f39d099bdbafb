import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";
import { planAllocation } from "../../../core/mod.ts";

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
