import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { importanceScores, normalisedNorms } from "../../../core/mod.ts";

Deno.test("normalisedNorms() rejects invalid norms and ranks, naming the entry: examples", () => {
  assert.throws(() => normalisedNorms([1, -0.5], [1, 1]), {
    name: "RangeError",
    message: /norms\[1\] must be >= 0: current value is -0.5/,
  });
  assert.throws(() => normalisedNorms([1, Number.NaN], [1, 1]), {
    name: "RangeError",
    message: /norms\[1\] must be a finite number: current value is NaN/,
  });
  assert.throws(() => normalisedNorms([1, 1], [1, 0]), {
    name: "RangeError",
    message: /ranks\[1\] must be a positive integer: current value is 0/,
  });
  assert.throws(() => normalisedNorms([1], [1, 1]), {
    name: "RangeError",
    message: /norms must have length 2: current length is 1/,
  });
});

Deno.test("importanceScores() rejects a negative norm anywhere in its input", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10 }).chain((m) =>
        fc.record({
          norms: fc.array(fc.double({ min: 0, max: 10, noNaN: true }), {
            minLength: m,
            maxLength: m,
          }),
          at: fc.nat(m - 1),
          bad: fc.double({ min: -1e6, max: -1e-9, noNaN: true }),
          inPrevious: fc.boolean(),
        })
      ),
      ({ norms, at, bad, inPrevious }) => {
        const ranks = norms.map(() => 1);
        const broken = norms.map((x, i) => (i === at ? bad : x));
        const input = inPrevious
          ? { norms, ranks, previousNorms: broken, previousRanks: ranks }
          : { norms: broken, ranks, previousNorms: norms, previousRanks: ranks };
        assert.throws(() => importanceScores(input), {
          name: "RangeError",
          message: new RegExp(`norms\\[${at}\\] must be >= 0`),
        });
      },
    ),
  );
});
