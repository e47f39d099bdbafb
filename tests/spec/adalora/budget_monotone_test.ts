import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { adaloraBudgetConfigArb } from "../../arbitraries.ts";
import { adaloraBudget } from "../../../core/mod.ts";

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
