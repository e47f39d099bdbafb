/**
 * docs/METHOD.md §20: `"update"` scores the change of `‖ΔW‖_F` since the previous event,
 * `"spectrum"` scores `σ_r(ΔW)` itself; both are permutation-equivariant over modules.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { updateScores, updateSingularValues, updateValue } from "../../../core/mod.ts";
import { factorsArb, gramsOf } from "./_explicit.ts";

const values = fc.array(fc.double({ min: 0, max: 100, noNaN: true }), {
  minLength: 1,
  maxLength: 12,
});

Deno.test('updateScores("update") is value now minus value at the previous event', () => {
  fc.assert(
    fc.property(values, values, (now, before0) => {
      const before = now.map((_, i) => before0[i % before0.length] as number);
      assert.deepEqual(updateScores("update", now, before), now.map((v, i) => v - before[i]!));
    }),
  );
});

Deno.test('updateScores("spectrum") is the value itself, whatever the previous values', () => {
  fc.assert(
    fc.property(values, values, (now, other) => {
      const before = now.map((_, i) => other[i % other.length] as number);
      assert.deepEqual(updateScores("spectrum", now, before), now);
    }),
  );
});

Deno.test("updateScores() commutes with a permutation of the modules", () => {
  fc.assert(
    fc.property(values, values, fc.nat(), (now, other, shift) => {
      const before = now.map((_, i) => other[i % other.length] as number);
      const rot = <T>(xs: readonly T[]): T[] => xs.map((_, i) => xs[(i + shift) % xs.length] as T);
      for (const kind of ["update", "spectrum"] as const) {
        assert.deepEqual(
          updateScores(kind, rot(now), rot(before)),
          rot(updateScores(kind, now, before)),
        );
      }
    }),
  );
});

Deno.test('updateValue("spectrum") is the smallest singular value σ_r(ΔW)', () => {
  fc.assert(
    fc.property(factorsArb(), (f) => {
      const g = gramsOf(f);
      assert.equal(updateValue("spectrum", g), updateSingularValues(g).at(-1));
    }),
  );
});

Deno.test("updateScores() rejects previous values of another length", () => {
  assert.throws(
    () => updateScores("update", [1, 2], [1]),
    /previous must have one value per module/,
  );
});
