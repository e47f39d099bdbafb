import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { adaloraBudgetConfigArb } from "../../arbitraries.ts";
import { adaloraBudget } from "../../../core/mod.ts";

Deno.test("adaloraBudget() never increases as step grows: RTE example", () => {
  const config = {
    initBudget: 864,
    targetBudget: 576,
    tinit: 600,
    tfinal: 1800,
    deltaT: 1,
    totalSteps: 3900,
  };
  const budgets = [0, 600, 601, 700, 1000, 1500, 2000, 2100, 3900].map((s) =>
    adaloraBudget(s, config).budget
  );
  assert.deepEqual(budgets, [864, 864, 863, 810, 689, 594, 576, 576, 576]);
});

Deno.test("adaloraBudget() never increases as step grows", () => {
  fc.assert(
    fc.property(adaloraBudgetConfigArb(), fc.nat(10_000), fc.nat(10_000), (config, a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const early = adaloraBudget(lo, config).budget;
      const late = adaloraBudget(hi, config).budget;
      assert.ok(late <= early, `budget(${hi}) = ${late} > budget(${lo}) = ${early}`);
      assert.ok(late >= config.targetBudget && early <= config.initBudget);
    }),
  );
});
