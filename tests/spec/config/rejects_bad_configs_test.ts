import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import {
  adaloraBudget,
  parseAdaLoraConfig,
  parseIncreLoraConfig,
  parseLoraConfig,
  parseTriAdaptConfig,
} from "../../../core/mod.ts";

type Parser = (input: unknown) => unknown;

/** Integer fields reject 1.5; real-valued fields (`loraAlpha`, rates) accept it. */
type Kind = "integer" | "positive" | "unit";

/** A valid base input and the numeric fields it validates, per method. */
const METHODS: ReadonlyArray<
  {
    name: string;
    parse: Parser;
    base: Record<string, unknown>;
    fields: ReadonlyArray<readonly [string, Kind]>;
  }
> = [
  {
    name: "lora",
    parse: parseLoraConfig,
    base: { rank: 8 },
    fields: [["rank", "integer"], ["loraAlpha", "positive"], ["dropout", "unit"]],
  },
  {
    name: "triadapt",
    parse: parseTriAdaptConfig,
    base: { initWarmup: 100, interval: 100, totalSteps: 3900 },
    fields: [
      ["initRank", "integer"],
      ["refRank", "integer"],
      ["deltaRank", "integer"],
      ["initWarmup", "integer"],
      ["interval", "integer"],
      ["totalSteps", "integer"],
      ["topH", "integer"],
      ["loraAlpha", "positive"],
      ["dropout", "unit"],
    ],
  },
  {
    name: "adalora",
    parse: parseAdaLoraConfig,
    base: { tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 },
    fields: [
      ["initRank", "integer"],
      ["targetRank", "integer"],
      ["tinit", "integer"],
      ["tfinal", "integer"],
      ["deltaT", "integer"],
      ["totalSteps", "integer"],
      ["loraAlpha", "positive"],
      ["beta1", "unit"],
      ["beta2", "unit"],
    ],
  },
  {
    name: "increlora",
    parse: parseIncreLoraConfig,
    base: { topH: 9, initWarmup: 100, interval: 100, totalSteps: 3900 },
    fields: [
      ["initRank", "integer"],
      ["refRank", "integer"],
      ["deltaRank", "integer"],
      ["topH", "integer"],
      ["initWarmup", "integer"],
      ["interval", "integer"],
      ["totalSteps", "integer"],
      ["loraAlpha", "positive"],
      ["beta1", "unit"],
    ],
  },
];

/** Out-of-range numbers per kind (each one is invalid for every field of that kind). */
const BAD_NUMBERS: Record<Kind, readonly number[]> = {
  integer: [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, -0.5],
  positive: [Number.NaN, -1, 0, Number.POSITIVE_INFINITY, -0.5],
  unit: [Number.NaN, -1, 1, 1.5, Number.POSITIVE_INFINITY],
};

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("parse…Config() rejects impossible schedules: examples", () => {
  assert.throws(
    () => parseTriAdaptConfig({ initWarmup: 3900, interval: 100, totalSteps: 3900 }),
    {
      name: "RangeError",
      message: /initWarmup must be < totalSteps \(3900\): current value is 3900/,
    },
  );
  assert.throws(
    () => parseAdaLoraConfig({ tinit: 600, tfinal: 3300, deltaT: 1, totalSteps: 3900 }),
    {
      name: "RangeError",
      message: /tinit \+ tfinal must be < totalSteps \(3900\): current values are 600 \+ 3300/,
    },
  );
  assert.throws(
    () => parseTriAdaptConfig({ initWarmup: 100, interval: Number.NaN, totalSteps: 3900 }),
    { name: "RangeError", message: /interval must be a positive integer: current value is NaN/ },
  );
  assert.throws(() => parseTriAdaptConfig({ initWarmup: 100, interval: 100 }), {
    name: "TypeError",
    message: /totalSteps must be given/,
  });
  assert.throws(
    () => parseTriAdaptConfig({ initWarmup: 1, interval: 1, totalSteps: 9, intervall: 1 }),
    {
      name: "TypeError",
      message: /current value is "intervall"/,
    },
  );
  assert.throws(
    () => parseTriAdaptConfig({ initWarmup: 1, interval: 1, totalSteps: 9, threshold: "fixed" }),
    {
      name: "TypeError",
      message: /topH must be given/,
    },
  );
  assert.throws(
    () =>
      parseTriAdaptConfig({ initWarmup: 1, interval: 1, totalSteps: 9, initRank: 4, refRank: 3 }),
    { name: "RangeError", message: /refRank must be >= initRank \(4\): current value is 3/ },
  );
  assert.throws(
    () => parseIncreLoraConfig({ topH: 1, initWarmup: 1, interval: 1, totalSteps: 9, refRank: 0 }),
    { name: "RangeError", message: /refRank must be a positive integer: current value is 0/ },
  );
  assert.throws(
    () =>
      parseIncreLoraConfig({
        topH: 1,
        initWarmup: 1,
        interval: 1,
        totalSteps: 9,
        initRank: 2,
        refRank: 1,
      }),
    { name: "RangeError", message: /refRank must be >= initRank \(2\): current value is 1/ },
  );
  assert.throws(
    () => parseAdaLoraConfig({ tinit: 1, tfinal: 1, deltaT: 1, totalSteps: 9, targetRank: 13 }),
    { name: "RangeError", message: /targetRank must be <= initRank \(12\): current value is 13/ },
  );
  assert.throws(
    () => parseTriAdaptConfig({ initWarmup: 1, interval: 1, totalSteps: 9, dropout: 1 }),
    { name: "RangeError", message: /dropout must be a number in \[0, 1\): current value is 1/ },
  );
  assert.throws(
    () => parseTriAdaptConfig({ initWarmup: 1, interval: 1, totalSteps: 9, rounding: "round" }),
    {
      name: "TypeError",
      message: /rounding must be one of "floor", "ceil": current value is "round"/,
    },
  );
  assert.throws(
    () =>
      adaloraBudget(0, {
        initBudget: 864,
        targetBudget: 576,
        tinit: 600,
        tfinal: 3300,
        deltaT: 1,
        totalSteps: 3900,
      }),
    { name: "RangeError", message: /tinit \+ tfinal must be < totalSteps \(3900\)/ },
  );
  assert.throws(() => parseLoraConfig({ method: "adalora" }), TypeError);
  assert.throws(() => parseLoraConfig(null), TypeError);
});

Deno.test("parse…Config() rejects a bad value in any numeric field with the named error", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...METHODS).chain((m) =>
        fc.constantFrom(...m.fields).chain(([field, kind]) =>
          fc.tuple(
            fc.constant(m),
            fc.constant(field),
            fc.oneof(
              fc.constantFrom(...BAD_NUMBERS[kind]).map((v) => ({ v, error: RangeError })),
              fc.constantFrom<unknown>("3", null, true, [4], {}).map((v) => ({
                v,
                error: TypeError,
              })),
            ),
          )
        )
      ),
      ([method, field, { v, error }]) => {
        const input = { ...method.base, [field]: v };
        assert.throws(() => method.parse(input), (e: unknown) => {
          assert.ok(e instanceof error, `${method.name}.${field} = ${show(v)}: ${String(e)}`);
          assert.match((e as Error).message, new RegExp(escape(field)));
          if (typeof v === "number") {
            assert.match((e as Error).message, new RegExp(escape(show(v))));
          }
          return true;
        });
      },
    ),
  );
});

Deno.test("parseTriAdaptConfig() rejects every schedule with initWarmup >= totalSteps", () => {
  fc.assert(
    fc.property(
      fc.nat(10_000),
      fc.nat(10_000),
      fc.integer({ min: 1, max: 100 }),
      (t, extra, interval) => {
        const totalSteps = Math.max(1, t);
        assert.throws(
          () => parseTriAdaptConfig({ initWarmup: totalSteps + extra, interval, totalSteps }),
          RangeError,
        );
        assert.throws(
          () =>
            parseIncreLoraConfig({ topH: 1, initWarmup: totalSteps + extra, interval, totalSteps }),
          RangeError,
        );
      },
    ),
  );
});

Deno.test("parseAdaLoraConfig() and adaloraBudget() reject every schedule with tinit + tfinal >= totalSteps", () => {
  fc.assert(
    fc.property(fc.nat(5000), fc.nat(5000), fc.nat(5000), (tinit, tfinal, slack) => {
      fc.pre(tinit + tfinal >= 1); // totalSteps is at least 1, so tinit + tfinal = 0 cannot reach it
      const totalSteps = Math.max(1, tinit + tfinal - slack);
      assert.throws(
        () => parseAdaLoraConfig({ tinit, tfinal, deltaT: 1, totalSteps }),
        { name: "RangeError", message: /tinit \+ tfinal/ },
      );
      const budget = { initBudget: 12, targetBudget: 8, tinit, tfinal, deltaT: 1, totalSteps };
      assert.throws(() => adaloraBudget(0, budget), {
        name: "RangeError",
        message: /tinit \+ tfinal/,
      });
    }),
  );
});
