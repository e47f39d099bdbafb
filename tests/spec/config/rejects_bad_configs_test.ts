import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import {
  parseAdaLoraConfig,
  parseIncreLoraConfig,
  parseLoraConfig,
  parseTriAdaptConfig,
} from "../../../core/mod.ts";

type Parser = (input: unknown) => unknown;

/** A valid base input and the numeric fields it validates, per method. */
const METHODS: ReadonlyArray<
  { name: string; parse: Parser; base: Record<string, unknown>; fields: string[] }
> = [
  { name: "lora", parse: parseLoraConfig, base: { rank: 8 }, fields: ["rank", "loraAlpha"] },
  {
    name: "triadapt",
    parse: parseTriAdaptConfig,
    base: { initWarmup: 100, interval: 100, totalSteps: 3900 },
    fields: [
      "initRank",
      "refRank",
      "deltaRank",
      "initWarmup",
      "interval",
      "totalSteps",
      "topH",
      "loraAlpha",
    ],
  },
  {
    name: "adalora",
    parse: parseAdaLoraConfig,
    base: { tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 },
    fields: ["initRank", "targetRank", "tinit", "tfinal", "deltaT", "totalSteps", "loraAlpha"],
  },
  {
    name: "increlora",
    parse: parseIncreLoraConfig,
    base: { topH: 9, initWarmup: 100, interval: 100, totalSteps: 3900 },
    fields: [
      "initRank",
      "refRank",
      "deltaRank",
      "topH",
      "initWarmup",
      "interval",
      "totalSteps",
      "loraAlpha",
    ],
  },
];

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
  assert.throws(() => parseLoraConfig({ method: "adalora" }), TypeError);
  assert.throws(() => parseLoraConfig(null), TypeError);
});

Deno.test("parse…Config() rejects a bad value in any numeric field with the named error", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...METHODS).chain((m) =>
        fc.tuple(fc.constant(m), fc.constantFrom(...m.fields))
      ),
      fc.oneof(
        fc.constantFrom(Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, -0.5).map((v) => ({
          v,
          error: RangeError,
        })),
        fc.constantFrom<unknown>("3", null, true, [4], {}).map((v) => ({ v, error: TypeError })),
      ),
      ([method, field], { v, error }) => {
        if (field === "loraAlpha" && v === 1.5) return; // 1.5 is a valid alpha
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

Deno.test("parseAdaLoraConfig() rejects every schedule with tinit + tfinal >= totalSteps", () => {
  fc.assert(
    fc.property(fc.nat(5000), fc.nat(5000), fc.nat(5000), (tinit, tfinal, slack) => {
      const totalSteps = Math.max(1, tinit + tfinal - slack);
      assert.throws(
        () => parseAdaLoraConfig({ tinit, tfinal, deltaT: 1, totalSteps }),
        { name: "RangeError", message: /tinit \+ tfinal/ },
      );
    }),
  );
});
