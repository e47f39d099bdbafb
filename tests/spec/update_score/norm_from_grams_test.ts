/**
 * docs/METHOD.md §20: `‖s·B·D·A‖_F = |s|·sqrt(tr(Dᵀ·G_B·D·G_A))` with `G_B = BᵀB`, `G_A = AAᵀ`.
 * Tolerance: both sides are float64 sums of at most a few hundred products of entries ≤ 2·4, so
 * they agree to `1e-9` relative (plus `1e-9` absolute for updates that cancel to ~0).
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { updateNorm } from "../../../core/mod.ts";
import { explicit, factorsArb, frob, gramsOf } from "./_explicit.ts";

Deno.test("updateNorm() equals ‖s·B·(L+U)·A‖_F of the explicit d×n product", () => {
  fc.assert(
    fc.property(factorsArb(), (f) => {
      const direct = frob(explicit(f));
      const fromGrams = updateNorm(gramsOf(f));
      assert.ok(Math.abs(fromGrams - direct) <= 1e-9 * direct + 1e-9, `${fromGrams} vs ${direct}`);
    }),
  );
});

Deno.test("updateNorm() scales with |c| when the scale s is multiplied by c", () => {
  fc.assert(
    fc.property(factorsArb(), fc.double({ min: -3, max: 3, noNaN: true }), (f, c) => {
      const g = gramsOf(f);
      const scaled = updateNorm({ ...g, scale: g.scale * c });
      const expected = Math.abs(c) * updateNorm(g);
      assert.ok(Math.abs(scaled - expected) <= 1e-12 * expected + 1e-300);
    }),
  );
});

Deno.test("updateNorm() is 0 when B is 0 (a function-preserving growth's new columns)", () => {
  fc.assert(
    fc.property(factorsArb(), (f) => {
      const zeroB = { ...f, b: f.b.map((row) => row.map(() => 0)) };
      assert.equal(updateNorm(gramsOf(zeroB)), 0);
    }),
  );
});

Deno.test("updateNorm() rejects a Gram that is not r×r or not finite, naming it", () => {
  const I = [[1, 0], [0, 1]];
  assert.throws(
    () => updateNorm({ gramA: [[1]], gramB: I, core: I, scale: 1 }),
    /gramA must be 2×2/,
  );
  assert.throws(
    () => updateNorm({ gramA: I, gramB: [[NaN, 0], [0, 1]], core: I, scale: 1 }),
    /gramB/,
  );
  assert.throws(() => updateNorm({ gramA: I, gramB: I, core: I, scale: Infinity }), /scale/);
});
