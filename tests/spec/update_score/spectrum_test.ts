/**
 * docs/METHOD.md §20: the `r` singular values of `ΔW = s·B·D·A` from the `r×r` view. Laws: they are
 * sorted and non-negative; their squares sum to `‖ΔW‖_F²`; they do not depend on how `ΔW` is
 * factored (an orthogonal change of basis inside the product); a `B` with only `k` non-zero
 * columns leaves `σ_{k+1…r} = 0`. Tolerance: Jacobi rotations in float64 on matrices with entries
 * up to ~10⁴ reach `1e-9` relative to `σ_1` (plus `1e-9` absolute). The singular values come from
 * the eigenvalues `σ²` of an `r×r` matrix, whose absolute error is a multiple of float64's `u ≈
 * 1.1e-16` times `σ_1²` (Weyl); a `σ` near 0 therefore carries an error near `√u·σ_1 ≈ 1e-8·σ_1`, so
 * laws about the values are stated on `σ²`: within `1e-9·m²` (plus `1e-18` absolute), where
 * `m = |s|·‖B‖_F·‖D‖_F·‖A‖_F` bounds `σ_1` and the size of every intermediate product (when the
 * factors cancel, `σ_1` can be 0 while the rounding noise is set by the factors' sizes).
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { symmetricEigen, updateNorm, updateSingularValues } from "../../../core/mod.ts";
import { explicit, factorsArb, frob, gramsOf, type M, mul, t } from "./_explicit.ts";

const close = (x: number, y: number, scale: number): boolean =>
  Math.abs(x - y) <= 1e-9 * scale + 1e-9;
/** `σ²` of two computations agree within `1e-9·m²` (see the module note). */
const closeSq = (x: number, y: number, m: number): boolean =>
  Math.abs(x * x - y * y) <= 1e-9 * m * m + 1e-18;
/** `m = |s|·‖B‖_F·‖D‖_F·‖A‖_F`, the scale of the rounding noise (see the module note). */
const factorScale = (f: { b: M; d: M; a: M; s: number }): number =>
  Math.abs(f.s) * frob(f.b) * frob(f.d) * frob(f.a);

Deno.test("updateSingularValues() returns r values, descending and non-negative", () => {
  fc.assert(
    fc.property(factorsArb(), (f) => {
      const sv = updateSingularValues(gramsOf(f));
      assert.equal(sv.length, f.d.length);
      sv.forEach((x, i) => {
        assert.ok(x >= 0);
        if (i > 0) assert.ok(x <= (sv[i - 1] as number));
      });
    }),
  );
});

Deno.test("updateSingularValues() squares sum to ‖ΔW‖_F²", () => {
  fc.assert(
    fc.property(factorsArb(), (f) => {
      const sv = updateSingularValues(gramsOf(f));
      const sum = sv.reduce((a, x) => a + x * x, 0);
      const norm2 = frob(explicit(f)) ** 2;
      assert.ok(close(sum, norm2, norm2), `${sum} vs ${norm2}`);
      assert.ok(close(Math.sqrt(sum), updateNorm(gramsOf(f)), Math.sqrt(norm2)));
    }),
  );
});

/** A rotation by `theta` in the plane of coordinates 0 and 1 (identity when r = 1). */
function rotation(r: number, theta: number): M {
  const q = Array.from(
    { length: r },
    (_, i) => Array.from({ length: r }, (_, j): number => (i === j ? 1 : 0)),
  );
  if (r >= 2) {
    q[0]![0] = Math.cos(theta);
    q[0]![1] = -Math.sin(theta);
    q[1]![0] = Math.sin(theta);
    q[1]![1] = Math.cos(theta);
  }
  return q;
}

Deno.test("updateSingularValues() is invariant under B→BQ, D→QᵀDP, A→PᵀA (same ΔW)", () => {
  fc.assert(
    fc.property(
      factorsArb(),
      fc.double({ min: -3, max: 3, noNaN: true }),
      fc.double({ min: -3, max: 3, noNaN: true }),
      (f, u, v) => {
        const r = f.d.length;
        const q = rotation(r, u);
        const p = rotation(r, v);
        const g = { b: mul(f.b, q), d: mul(mul(t(q), f.d), p), a: mul(t(p), f.a), s: f.s };
        const before = updateSingularValues(gramsOf(f));
        const after = updateSingularValues(gramsOf(g));
        const m = Math.max(before[0] ?? 0, factorScale(f));
        before.forEach((x, i) =>
          assert.ok(closeSq(x, after[i] as number, m), `${x} vs ${after[i]}`)
        );
      },
    ),
  );
});

Deno.test("updateSingularValues(): B with k non-zero columns leaves σ_{k+1…r} = 0", () => {
  fc.assert(
    fc.property(factorsArb(), fc.nat(4), (f, k0) => {
      const r = f.d.length;
      const k = k0 % r;
      const b = f.b.map((row) => row.map((x, j) => (j < k ? x : 0)));
      const sv = updateSingularValues(gramsOf({ ...f, b }));
      const m = Math.max(sv[0] ?? 0, factorScale({ ...f, b }));
      for (let i = k; i < r; i++) {
        assert.ok(closeSq(sv[i] as number, 0, m), `σ_${i + 1} = ${sv[i]}`);
      }
    }),
  );
});

Deno.test("symmetricEigen() reconstructs the matrix: V·diag(λ)·Vᵀ = (M + Mᵀ)/2", () => {
  fc.assert(
    fc.property(factorsArb(), (f) => {
      const m = mul(t(f.b), f.b).map((row, i) => row.map((x, j) => x + (f.d[i]![j] as number)));
      const { values, vectors } = symmetricEigen(m);
      const rebuilt = mul(
        vectors.map((row) => row.map((x, j) => x * (values[j] as number))),
        t(vectors),
      );
      const scale = Math.max(1, ...m.flat().map(Math.abs));
      m.forEach((row, i) =>
        row.forEach((x, j) => {
          const sym = 0.5 * (x + (m[j]![i] as number));
          assert.ok(close(rebuilt[i]![j] as number, sym, scale), `${rebuilt[i]![j]} vs ${sym}`);
        })
      );
    }),
  );
});
