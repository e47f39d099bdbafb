import assert from "node:assert/strict";
import { adaloraBudget, adaloraBudgetConfig, parseAdaLoraConfig } from "../../../core/mod.ts";

Deno.test("adaloraBudget() matches the docs/METHOD.md §12 check values (M 72, 864 → 576, RTE)", () => {
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
