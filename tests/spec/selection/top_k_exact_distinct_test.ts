import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { selectTopK } from "../../../core/mod.ts";

Deno.test("selectTopK() breaks ties by module order: example", () => {
  assert.deepEqual(selectTopK([1, 3, 3, -2, 3], 2), [1, 2]);
  assert.deepEqual(selectTopK([0, -0, 0], 3), [0, 1, 2]);
  assert.deepEqual(selectTopK([5], 0), []);
  assert.throws(() => selectTopK([1, 2], 3), {
    name: "RangeError",
    message: /k must be <= the number of scores 2: current value is 3/,
  });
  assert.throws(() => selectTopK([1, Number.NaN], 1), RangeError);
});

Deno.test("selectTopK() returns exactly k distinct indices whose scores are ≥ every unselected score", () => {
  fc.assert(
    fc.property(
      // few distinct values so that ties are common
      fc.array(
        fc.oneof(
          fc.integer({ min: -3, max: 3 }),
          fc.double({ noNaN: true, noDefaultInfinity: true }),
        ),
        {
          minLength: 1,
          maxLength: 60,
        },
      ),
      fc.nat(),
      (scores, raw) => {
        const k = raw % (scores.length + 1);
        const picked = selectTopK(scores, k);
        assert.equal(picked.length, k);
        assert.equal(new Set(picked).size, k);
        const chosen = new Set(picked);
        const minChosen = Math.min(...picked.map((i) => scores[i] ?? Number.NaN));
        scores.forEach((s, i) => {
          if (!chosen.has(i)) assert.ok(s <= minChosen);
          // ties resolved by module order: an unselected equal score comes after every selected one
          if (!chosen.has(i) && s === minChosen) {
            assert.ok(picked.every((p) => p < i || scores[p] !== s));
          }
        });
      },
    ),
  );
});
