/**
 * AdaLoRA's final phase (PEFT `AdaLoraModel.update_and_allocate`): the rank pattern is fixed once,
 * at `step = T − tfinal` (a forced mask to the target budget), and only re-applied afterwards;
 * before that, masking follows `adaloraBudget`'s `mask` flag.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { adaloraBudgetConfigArb } from "../../arbitraries.ts";
import { adaloraBudget, adaloraMaskAction } from "../../../core/mod.ts";

Deno.test("adaloraMaskAction() freezes the pattern exactly once, at T − tfinal: example", () => {
  // Arrange: T − tfinal = 2995 is off the deltaT grid, so the freeze is forced there
  const config = {
    initBudget: 864,
    targetBudget: 576,
    tinit: 805,
    tfinal: 2005,
    deltaT: 10,
    totalSteps: 5000,
  };
  // Act
  const actions = [805, 806, 810, 2990, 2995, 2996, 5000].map((s) => adaloraMaskAction(s, config));
  // Assert
  assert.deepEqual(actions, ["none", "none", "mask", "mask", "freeze", "reapply", "reapply"]);
});

Deno.test("adaloraMaskAction() freezes exactly once at T − tfinal, re-applies after, and masks before only when adaloraBudget() says so", () => {
  fc.assert(
    fc.property(adaloraBudgetConfigArb(), (config) => {
      // Arrange
      const freezeStep = config.totalSteps - config.tfinal;
      let freezes = 0;
      // Act / Assert
      for (let step = 0; step <= config.totalSteps; step++) {
        const action = adaloraMaskAction(step, config);
        if (action === "freeze") freezes++;
        if (step < freezeStep) {
          assert.equal(action, adaloraBudget(step, config).mask ? "mask" : "none");
        } else {
          assert.equal(action, step === freezeStep ? "freeze" : "reapply");
        }
      }
      assert.equal(freezes, 1);
    }),
    { numRuns: 50 },
  );
});
