/**
 * AdaLoRA masks (docs/METHOD.md §12, PEFT `budget_schedule`): never up to `tinit`; during budgeting
 * on steps with `step % deltaT == 0` (the global step, not the step since `tinit`); at every step
 * after `T − tfinal`. Step `T − tfinal` itself is still a budgeting step (its budget is already
 * the target).
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { adaloraBudgetConfigArb } from "../../arbitraries.ts";
import { adaloraBudget } from "../../../core/mod.ts";

Deno.test("adaloraBudget() masks every deltaT global steps while budgeting and every step at the end: example", () => {
  // Arrange: tinit 805 and T − tfinal = 2995 are not multiples of deltaT = 10
  const config = {
    initBudget: 864,
    targetBudget: 576,
    tinit: 805,
    tfinal: 2005,
    deltaT: 10,
    totalSteps: 5000,
  };
  // Act / Assert
  assert.deepEqual(adaloraBudget(805, config), { budget: 864, mask: false }); // step ≤ tinit
  assert.equal(adaloraBudget(806, config).mask, false);
  assert.equal(adaloraBudget(810, config).mask, true); // 810 % 10, not (810 − 805) % 10
  assert.equal(adaloraBudget(815, config).mask, false);
  assert.deepEqual(adaloraBudget(2990, config).mask, true);
  assert.deepEqual(adaloraBudget(2995, config), { budget: 576, mask: false }); // T − tfinal
  assert.deepEqual(adaloraBudget(2996, config), { budget: 576, mask: true }); // > T − tfinal
});

Deno.test("adaloraBudget() masks exactly on multiples of deltaT in (tinit, T − tfinal] and on every later step", () => {
  fc.assert(
    fc.property(adaloraBudgetConfigArb(), fc.nat(10_000), (config, step) => {
      const { mask } = adaloraBudget(step, config);
      const expected = step <= config.tinit
        ? false
        : step > config.totalSteps - config.tfinal
        ? true
        : step % config.deltaT === 0;
      assert.equal(mask, expected);
    }),
  );
});
