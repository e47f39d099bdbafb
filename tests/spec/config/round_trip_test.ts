import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb } from "../../arbitraries.ts";
import { parseTriAdaptConfig } from "../../../core/mod.ts";

Deno.test("parseTriAdaptConfig() round-trips through JSON: example", () => {
  const config = parseTriAdaptConfig({
    initWarmup: 100,
    interval: 100,
    totalSteps: 3900,
    threshold: "fixed",
    topH: 9,
  });
  assert.deepEqual(parseTriAdaptConfig(JSON.parse(JSON.stringify(config))), config);
  assert.ok(Object.isFrozen(config));
});

Deno.test("parseTriAdaptConfig() round-trips through JSON: config → JSON → config", () => {
  fc.assert(
    fc.property(planConfigArb(), (p) => {
      const { matrices: _m, ...input } = p;
      const config = parseTriAdaptConfig(input);
      assert.deepEqual(parseTriAdaptConfig(JSON.parse(JSON.stringify(config))), config);
    }),
  );
});
