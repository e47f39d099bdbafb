import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { adaloraBudgetConfigArb } from "../../arbitraries.ts";
import { adaloraBudget } from "../../../core/mod.ts";

Deno.test("adaloraBudget() equals init up to tinit and target after T − tfinal: example", () => {
  // tinit 10, tfinal 20, T 100 (PEFT's worked example): budgeting runs over steps 11…80
  const config = {
    initBudget: 12,
    targetBudget: 8,
    tinit: 10,
    tfinal: 20,
    deltaT: 1,
    totalSteps: 100,
  };
  assert.deepEqual(adaloraBudget(10, config), { budget: 12, mask: false });
  assert.deepEqual(adaloraBudget(11, config), { budget: 11, mask: true }); // ⌊4·(69/70)³ + 8⌋
  assert.deepEqual(adaloraBudget(81, config), { budget: 8, mask: true });
});

Deno.test("adaloraBudget() equals init up to tinit and target after T − tfinal", () => {
  fc.assert(
    fc.property(adaloraBudgetConfigArb(), fc.nat(), fc.nat(5000), (config, i, j) => {
      const before = i % (config.tinit + 1); // 0 … tinit
      const after = config.totalSteps - config.tfinal + 1 + j; // > T − tfinal
      assert.deepEqual(adaloraBudget(before, config), { budget: config.initBudget, mask: false });
      assert.deepEqual(adaloraBudget(after, config), { budget: config.targetBudget, mask: true });
    }),
  );
});
