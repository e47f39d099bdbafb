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
  assert.throws(
    () =>
      rankStateFromJson('{"modules":["a","b"],"ranks":[1,2],"total":4,"budget0":8,"remaining":4}'),
    { name: "RangeError", message: /total must equal the sum of ranks 3: current value is 4/ },
  );
  assert.throws(
    () =>
      rankStateFromJson('{"modules":["a","b"],"ranks":[1,2],"total":3,"budget0":8,"remaining":4}'),
    {
      name: "RangeError",
      message: /total \+ remaining must equal budget0 8: current values are 3 \+ 4/,
    },
  );
});

Deno.test("rankStateFromJson() rejects every text whose totals disagree with its ranks", () => {
  fc.assert(
    fc.property(
      rankStateArb(),
      fc.integer({ min: 1, max: 50 }),
      fc.boolean(),
      (state, d, which) => {
        // Arrange: shift one of total/remaining off by d, keeping everything else consistent
        const record = JSON.parse(rankStateToJson(state));
        if (which) record.total += d;
        else record.remaining += d;
        // Act / Assert
        assert.throws(() => rankStateFromJson(JSON.stringify(record)), {
          name: "RangeError",
          message: which ? /total must equal the sum of ranks/ : /total \+ remaining must equal/,
        });
      },
    ),
  );
});
