/**
 * Helpers of the update-score laws: small random factors, their `r×r` view, and the explicit
 * `d×n` product `s·B·D·A` that the library never forms (a test may, on tiny sizes).
 */
import { fc } from "../../_fc.ts";
import type { UpdateGrams } from "../../../core/mod.ts";

export type M = number[][];

export function mul(a: M, b: M): M {
  return a.map((row) =>
    (b[0] ?? []).map((_, j) => row.reduce((s, x, p) => s + x * (b[p]![j] as number), 0))
  );
}

export function t(a: M): M {
  return (a[0] ?? []).map((_, j) => a.map((row) => row[j] as number));
}

/** Factors `B [d,r]`, `D [r,r]`, `A [r,n]` and a scale. */
export interface Factors {
  readonly b: M;
  readonly d: M;
  readonly a: M;
  readonly s: number;
}

const entry = fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true });
const mat = (rows: number, cols: number) =>
  fc.array(fc.array(entry, { minLength: cols, maxLength: cols }), {
    minLength: rows,
    maxLength: rows,
  });

/** Random factors with `r ∈ [1, 4]`, `d, n ∈ [1, 6]`, entries in `[−2, 2]`, scale in `[−4, 4]`. */
export function factorsArb(): fc.Arbitrary<Factors> {
  return fc.tuple(
    fc.integer({ min: 1, max: 4 }),
    fc.integer({ min: 1, max: 6 }),
    fc.integer({ min: 1, max: 6 }),
  ).chain(([r, d, n]) =>
    fc.record({
      b: mat(d, r),
      d: mat(r, r),
      a: mat(r, n),
      s: fc.double({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }),
    })
  );
}

/** The `r×r` view the library scores from. */
export function gramsOf(f: Factors): UpdateGrams {
  return { gramA: mul(f.a, t(f.a)), gramB: mul(t(f.b), f.b), core: f.d, scale: f.s };
}

/** `s·B·D·A`, explicitly. */
export function explicit(f: Factors): M {
  return mul(mul(f.b, f.d), f.a).map((row) => row.map((x) => f.s * x));
}

export function frob(m: M): number {
  return Math.sqrt(m.reduce((s, row) => s + row.reduce((u, x) => u + x * x, 0), 0));
}
