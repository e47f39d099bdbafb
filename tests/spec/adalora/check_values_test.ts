import assert from "node:assert/strict";
import { adaloraBudget, adaloraBudgetConfig, parseAdaLoraConfig } from "../../../core/mod.ts";

Deno.test("adaloraBudget() matches the PAPER-NOTES §6 check values (M 72, 864 → 576, RTE)", () => {
  const config = adaloraBudgetConfig(
    parseAdaLoraConfig({ tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 }),
    72,
  );
  const expected: Array<[number, number]> = [
    [600, 864],
    [601, 863],
    [700, 810],
    [1000, 689],
    [1500, 594],
    [2000, 576],
    [2100, 576],
  ];
  for (const [step, budget] of expected) {
    assert.equal(adaloraBudget(step, config).budget, budget, `step ${step}`);
  }
});

Deno.test("adaloraBudget() masks every deltaT steps while budgeting and every step at the end", () => {
  const config = {
    initBudget: 864,
    targetBudget: 576,
    tinit: 800,
    tfinal: 2000,
    deltaT: 10,
    totalSteps: 5000,
  };
  assert.equal(adaloraBudget(800, config).mask, false);
  assert.equal(adaloraBudget(805, config).mask, false);
  assert.equal(adaloraBudget(810, config).mask, true);
  assert.equal(adaloraBudget(3000, config).mask, true); // last budgeting step, a multiple of 10
  assert.deepEqual(adaloraBudget(3001, config), { budget: 576, mask: true });
});
