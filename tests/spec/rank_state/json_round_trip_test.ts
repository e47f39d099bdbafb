import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { rankStateArb } from "../../arbitraries.ts";
import {
  createRankState,
  growRanks,
  rankStateFromJson,
  rankStateToJson,
} from "../../../core/mod.ts";

Deno.test("rankStateFromJson() inverts rankStateToJson(): example", () => {
  const state = growRanks(createRankState({ modules: ["a", "b"], initRank: 1, refRank: 4 }), [
    { index: 1, amount: 3 },
  ]);
  const text = rankStateToJson(state);
  assert.equal(text, '{"modules":["a","b"],"ranks":[1,4],"total":5,"budget0":8,"remaining":3}');
  assert.deepEqual(rankStateFromJson(text), state);
});

Deno.test("rankStateFromJson() inverts rankStateToJson() for every state", () => {
  fc.assert(
    fc.property(rankStateArb(), (state) => {
      const back = rankStateFromJson(rankStateToJson(state));
      assert.deepEqual(back, state);
      assert.ok(Object.isFrozen(back) && Object.isFrozen(back.ranks));
    }),
  );
});

Deno.test("rankStateFromJson() rejects broken JSON with the named error", () => {
  assert.throws(() => rankStateFromJson("{"), SyntaxError);
  assert.throws(() => rankStateFromJson("[]"), TypeError);
  assert.throws(
    () => rankStateFromJson('{"modules":["a"],"ranks":[0],"total":0,"budget0":4,"remaining":4}'),
    { name: "RangeError", message: /ranks\[0\]/ },
  );
  assert.throws(
    () =>
      rankStateFromJson('{"modules":["a","a"],"ranks":[1,1],"total":2,"budget0":4,"remaining":2}'),
    { name: "RangeError", message: /distinct/ },
  );
});
