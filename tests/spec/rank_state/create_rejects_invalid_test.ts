import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { createRankState } from "../../../core/mod.ts";

Deno.test("createRankState() rejects impossible budgets and module lists: examples", () => {
  assert.throws(() => createRankState({ modules: ["q"], initRank: 4, refRank: 3 }), {
    name: "RangeError",
    message: /refRank must be >= initRank: current values are 3 < 4/,
  });
  assert.throws(() => createRankState({ modules: [], initRank: 1, refRank: 8 }), {
    name: "TypeError",
    message: /modules must be a non-empty array of strings/,
  });
  assert.throws(() => createRankState({ modules: ["q", "q"], initRank: 1, refRank: 8 }), {
    name: "RangeError",
    message: /module names must be distinct: current value "q" repeats/,
  });
  assert.throws(() => createRankState({ modules: ["q"], initRank: 0, refRank: 8 }), {
    name: "RangeError",
    message: /initRank must be a positive integer: current value is 0/,
  });
});

Deno.test("createRankState() rejects every refRank below initRank", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 64 }), fc.nat(), (initRank, d) => {
      const refRank = 1 + (d % (initRank - 1)); // 1 … initRank − 1
      assert.throws(() => createRankState({ modules: ["q", "v"], initRank, refRank }), {
        name: "RangeError",
        message: new RegExp(`current values are ${refRank} < ${initRank}`),
      });
    }),
  );
});
