import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { increloraK } from "../../../core/mod.ts";

Deno.test("increloraK() = min(topH, R) with Δr = 1: example", () => {
  assert.deepEqual([100, 9, 3, 0, -2].map((r) => increloraK(9, r, 1)), [9, 9, 3, 0, 0]);
});

Deno.test("increloraK() never exceeds topH nor the grants the budget allows", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: -10, max: 5000 }),
      fc.integer({ min: 1, max: 8 }),
      (
        topH,
        remaining,
        deltaR,
      ) => {
        const k = increloraK(topH, remaining, deltaR);
        if (remaining <= 0) assert.equal(k, 0);
        else {
          assert.ok(k >= 1 && k <= topH && k <= Math.ceil(remaining / deltaR));
          assert.ok((k - 1) * deltaR < remaining);
        }
      },
    ),
  );
});
