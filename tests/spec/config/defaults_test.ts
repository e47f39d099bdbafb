/**
 * Defaults are part of the method (docs/METHOD.md §2–§8, §12, §13): TriAdaptLoRA starts at rank 1
 * with `r_ref = 8`, `Δr = 4`, the linear threshold, the code's `floor` rounding, no overshoot
 * ([ours]), `N(r) = r`; AdaLoRA starts at rank 12 with target 8 and `β1 = β2 = 0.85`; IncreLoRA
 * grows by 1.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import {
  parseAdaLoraConfig,
  parseIncreLoraConfig,
  parseLoraConfig,
  parseTriAdaptConfig,
} from "../../../core/mod.ts";

Deno.test("parse…Config() fills the docs/METHOD.md defaults: examples", () => {
  assert.deepEqual(parseLoraConfig({}), { method: "lora", rank: 8, loraAlpha: 32, dropout: 0 });
  assert.deepEqual(parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 }), {
    method: "triadapt",
    initRank: 1,
    refRank: 8,
    deltaRank: 4,
    initWarmup: 100,
    interval: 100,
    totalSteps: 3900,
    threshold: "linear",
    rounding: "floor",
    allowOvershoot: false,
    normalisation: "rank",
    loraAlpha: 32,
    dropout: 0,
    orthRegWeight: 0.1,
    growthInit: "paper",
    score: "paper",
    grants: "equal",
  });
  assert.deepEqual(
    parseAdaLoraConfig({ tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 }),
    {
      method: "adalora",
      initRank: 12,
      targetRank: 8,
      tinit: 600,
      tfinal: 1800,
      deltaT: 1,
      totalSteps: 3900,
      beta1: 0.85,
      beta2: 0.85,
      loraAlpha: 32,
      dropout: 0,
      orthRegWeight: 0.1,
    },
  );
  assert.deepEqual(
    parseIncreLoraConfig({ topH: 9, initWarmup: 100, interval: 100, totalSteps: 3900 }),
    {
      method: "increlora",
      initRank: 1,
      refRank: 8,
      deltaRank: 1,
      topH: 9,
      initWarmup: 100,
      interval: 100,
      totalSteps: 3900,
      beta1: 0.85,
      beta2: 0.85,
      loraAlpha: 32,
      dropout: 0,
      orthRegWeight: 0.1,
    },
  );
});

Deno.test("parseTriAdaptConfig() keeps every given value and defaults only the omitted ones", () => {
  fc.assert(
    fc.property(
      fc.record({
        initRank: fc.integer({ min: 1, max: 4 }),
        extra: fc.nat(8),
        deltaRank: fc.integer({ min: 1, max: 8 }),
        threshold: fc.constantFrom("linear" as const, "nonlinear" as const),
        rounding: fc.constantFrom("floor" as const, "ceil" as const),
        allowOvershoot: fc.boolean(),
        normalisation: fc.constantFrom("rank" as const, "sqrt" as const, "none" as const),
      }, { requiredKeys: [] }),
      (given) => {
        // Arrange
        const { extra, ...fields } = given;
        const initRank = fields.initRank ?? 1;
        const input = {
          ...fields,
          ...(extra === undefined ? {} : { refRank: initRank + extra }),
          initWarmup: 10,
          interval: 5,
          totalSteps: 100,
        };
        // Act
        const config = parseTriAdaptConfig(input);
        // Assert
        const defaults = parseTriAdaptConfig({ initWarmup: 10, interval: 5, totalSteps: 100 });
        for (const key of Object.keys(defaults) as Array<keyof typeof defaults>) {
          const expected = key in input ? (input as Record<string, unknown>)[key] : defaults[key];
          assert.equal(config[key], expected, key);
        }
      },
    ),
  );
});
