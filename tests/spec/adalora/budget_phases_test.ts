import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { adaloraBudgetConfigArb } from "../../arbitraries.ts";
import { adaloraBudget } from "../../../core/mod.ts";

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
