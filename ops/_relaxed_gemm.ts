/**
 * A float32 matrix product for the tfjs wasm backend's heap, written in WebAssembly with the
 * relaxed-SIMD fused multiply-add (`f32x4.relaxed_madd`), built at run time by
 * `ops/_wasm_writer.ts`.
 *
 * The package's wasm binary (XNNPACK, built for plain wasm SIMD) multiplies and adds in two
 * instructions; V8 lowers `relaxed_madd` to one `vfmadd` where the processor has FMA. Measured on
 * this project's machine (one core, `bench/wasm_matmul.ts`): 512×768·768×3072 in 50.8 ms against
 * XNNPACK's 66.6 ms (about 50 against 38 GFLOPS).
 *
 * Layout: `C[M×N] = A[M×K]·B[K×N]`, all row-major, `N` a multiple of 8. The product runs in blocks
 * of `JB` columns and `KC` rows of `B`: each block of `B` is packed into panels of 8 columns
 * (`[JB/8][KC][8]`, in a scratch buffer in the same heap), then a 6×8 micro-kernel (12 vector
 * accumulators, one broadcast of `A` per row and step) runs down the rows of `A`; the last rows use a
 * 1- to 5-row kernel. The sum over `k` runs in order, one block of `KC` after another, so a result
 * depends only on the operands (and on whether the machine fuses), never on timing.
 *
 * @internal
 * @module
 */

import { FunctionBody, type ModuleFunction, writeModule } from "./_wasm_writer.ts";

/** Rows of the micro-kernel. */
const MR = 6;
/** Columns of `B` packed per block (a multiple of 8). */
export const GEMM_BLOCK_COLUMNS = 128;
/** Rows of `B` (steps of `k`) per block. */
export const GEMM_BLOCK_DEPTH = 512;
/** Bytes of scratch the product needs: its packed block of `B`, and a 6×8 tile for the last
 * columns when `N` is not a multiple of 8. */
export const GEMM_SCRATCH_BYTES = GEMM_BLOCK_COLUMNS * GEMM_BLOCK_DEPTH * 4 + MR * 8 * 4;

/**
 * The `rows`×8 micro-kernel: `C[rows×8] (+)= A[rows×K]·P[K×8]` for a packed panel `P`.
 * Parameters (bytes): `ap` (A's first element), `lda` (A's row stride; with `transposedA`, the
 * stride from one `k` to the next, the rows being adjacent floats), `bp` (the panel), `cp`, `ldc`,
 * `K` (steps, ≥ 1), `acc` (non-zero: add to C, else overwrite).
 */
function microKernel(rows: number, transposedA: boolean): FunctionBody {
  const f = new FunctionBody(["ap", "lda", "bp", "cp", "ldc", "K", "acc"]);
  const a = Array.from({ length: rows }, (_, r) => f.local(`a${r}`, "i32"));
  const end = f.local("end", "i32");
  const c = Array.from(
    { length: rows },
    (_, r) => [f.local(`c${r}0`, "v128"), f.local(`c${r}1`, "v128")] as const,
  );
  const b0 = f.local("b0", "v128"), b1 = f.local("b1", "v128"), x = f.local("x", "v128");
  for (let r = 0; r < rows; r++) {
    if (transposedA) f.get("ap").i32(4 * r).add().set(a[r]!);
    else f.get("ap").get("lda").i32(r).mul().add().set(a[r]!);
  }
  if (transposedA) f.get(a[0]!).get("K").get("lda").mul().add().set(end);
  else f.get(a[0]!).get("K").i32(2).shl().add().set(end);
  f.loop();
  f.get("bp").v128Load(0).set(b0);
  f.get("bp").v128Load(16).set(b1);
  for (let r = 0; r < rows; r++) {
    const [c0, c1] = c[r]!;
    f.get(a[r]!).v128Load32Splat().set(x);
    f.get(x).get(b0).get(c0).f32x4RelaxedMadd().set(c0);
    f.get(x).get(b1).get(c1).f32x4RelaxedMadd().set(c1);
    if (transposedA) f.get(a[r]!).get("lda").add().set(a[r]!);
    else f.get(a[r]!).i32(4).add().set(a[r]!);
  }
  f.get("bp").i32(32).add().set("bp");
  f.get(a[0]!).get(end).ltU().brIf(0);
  f.end();
  for (const accumulate of [true, false]) {
    if (accumulate) f.get("acc").if();
    else f.else();
    for (let r = 0; r < rows; r++) {
      const [c0, c1] = c[r]!;
      const cp = f.local(`p${r}${accumulate ? "a" : "s"}`, "i32");
      f.get("cp").get("ldc").i32(r).mul().add().set(cp);
      for (const [offset, v] of [[0, c0], [16, c1]] as const) {
        f.get(cp);
        if (accumulate) f.get(cp).v128Load(offset).get(v).f32x4Add();
        else f.get(v);
        f.v128Store(offset);
      }
    }
  }
  f.end();
  return f;
}

/**
 * Packs `K` rows of the first `8·⌊jw/8⌋` of `jw` columns from `src` (row stride `lds` bytes)
 * into panels `[⌊jw/8⌋][K][8]` at `dst` (vector copies).
 */
function packPanels(): FunctionBody {
  const f = new FunctionBody(["src", "lds", "K", "jw", "dst"]);
  for (const name of ["p", "s", "d", "k"]) f.local(name, "i32");
  f.i32(0).set("p");
  f.block();
  f.loop();
  f.get("p").i32(8).add().get("jw").gtU().brIf(1);
  f.get("src").get("p").i32(2).shl().add().set("s");
  f.get("dst").get("p").get("K").mul().i32(2).shl().add().set("d");
  f.get("K").set("k");
  f.loop();
  for (const offset of [0, 16]) f.get("d").get("s").v128Load(offset).v128Store(offset);
  f.get("s").get("lds").add().set("s");
  f.get("d").i32(32).add().set("d");
  f.get("k").i32(1).sub().set("k");
  f.get("k").brIf(0);
  f.end();
  f.get("p").i32(8).add().set("p");
  f.br(0);
  f.end();
  f.end();
  return f;
}

/**
 * Packs, one float at a time, columns `[from, jw)` of `K` rows into their panels at `dst`
 * (the layout of {@link packPanels}). With `transposedB` the source holds `Bᵀ`: column `j` of
 * `B` is row `j` of the source, and `lds` is that row stride, a step of `k` being one float.
 * Lanes past `jw` in the last panel are left as they are: each lane of the product is computed
 * alone, and those lanes are never stored.
 */
function packScalar(transposedB: boolean): FunctionBody {
  const f = new FunctionBody(["src", "lds", "K", "jw", "dst", "from"]);
  for (const name of ["j", "k", "s", "d"]) f.local(name, "i32");
  f.get("from").set("j");
  f.block();
  f.loop();
  f.get("j").get("jw").geU().brIf(1);
  // d: panel ⌊j/8⌋, lane j mod 8
  f.get("dst").get("j").i32(-8).and().get("K").mul().get("j").i32(7).and().add().i32(2).shl()
    .add().set("d");
  if (transposedB) f.get("src").get("j").get("lds").mul().add().set("s");
  else f.get("src").get("j").i32(2).shl().add().set("s");
  f.i32(0).set("k");
  f.loop();
  f.get("d").get("s").f32Load().f32Store();
  if (transposedB) f.get("s").i32(4).add().set("s");
  else f.get("s").get("lds").add().set("s");
  f.get("d").i32(32).add().set("d");
  f.get("k").i32(1).add().set("k");
  f.get("k").get("K").ltU().brIf(0);
  f.end();
  f.get("j").i32(1).add().set("j");
  f.br(0);
  f.end();
  f.end();
  return f;
}

/** Copies `rows`×`cols` of the tile (row stride 32 bytes) into C, adding when `acc` ≠ 0. */
function tailCopy(): FunctionBody {
  const f = new FunctionBody(["tile", "cp", "ldc", "rows", "cols", "acc"]);
  for (const name of ["r", "q", "t", "o"]) f.local(name, "i32");
  f.i32(0).set("r");
  f.loop();
  f.i32(0).set("q");
  f.loop();
  f.get("tile").get("r").i32(5).shl().add().get("q").i32(2).shl().add().set("t");
  f.get("cp").get("r").get("ldc").mul().add().get("q").i32(2).shl().add().set("o");
  f.get("acc").if();
  f.get("o").get("t").f32Load().get("o").f32Load().f32Add().f32Store();
  f.else();
  f.get("o").get("t").f32Load().f32Store();
  f.end();
  f.get("q").i32(1).add().set("q");
  f.get("q").get("cols").ltU().brIf(0);
  f.end();
  f.get("r").i32(1).add().set("r");
  f.get("r").get("rows").ltU().brIf(0);
  f.end();
  return f;
}

/** `min(limit - start, block)` onto the stack. */
function remaining(f: FunctionBody, limit: string, start: string, block: string | number): void {
  const pushBlock = () => typeof block === "number" ? f.i32(block) : f.get(block);
  f.get(limit).get(start).sub();
  pushBlock();
  f.get(limit).get(start).sub();
  pushBlock();
  f.ltU().select();
}

/** Function indices in the module. */
const FN = {
  kernel: (rows: number, transposedA: boolean) => (transposedA ? MR : 0) + rows - 1,
  pack: 2 * MR,
  packScalar: 2 * MR + 1,
  packScalarT: 2 * MR + 2,
  tailCopy: 2 * MR + 3,
} as const;

/**
 * The product `gemm(a, b, c, M, N, K, scratch, JB, KC, flags)` (byte addresses; `JB` a multiple
 * of 8; `M`, `N`, `K` ≥ 1; `flags`: 1 = `a` holds `Aᵀ` (`[K, M]`), 2 = `b` holds `Bᵀ` (`[N, K]`)).
 */
function gemm(): FunctionBody {
  const f = new FunctionBody(["a", "b", "c", "M", "N", "K", "scratch", "JB", "KC", "flags"]);
  for (const name of ["j0", "jw", "k0", "kc", "i", "mr", "p", "cols", "ap", "lda", "bp", "cp"]) {
    f.local(name, "i32");
  }
  const tile = f.local("tile", "i32");
  f.get("scratch").get("JB").get("KC").mul().i32(2).shl().add().set(tile);
  f.i32(0).set("j0");
  f.loop(); // columns of B, JB at a time
  remaining(f, "N", "j0", "JB");
  f.set("jw");
  f.i32(0).set("k0");
  f.loop(); // depth, KC at a time
  remaining(f, "K", "k0", "KC");
  f.set("kc");
  f.get("flags").i32(2).and().if();
  // Bᵀ: row j0, column k0; rows K floats apart
  f.get("b").get("j0").get("K").mul().get("k0").add().i32(2).shl().add();
  f.get("K").i32(2).shl().get("kc").get("jw").get("scratch").i32(0).call(FN.packScalarT);
  f.else();
  f.get("b").get("k0").get("N").mul().get("j0").add().i32(2).shl().add();
  f.get("N").i32(2).shl().get("kc").get("jw").get("scratch").call(FN.pack);
  f.get("b").get("k0").get("N").mul().get("j0").add().i32(2).shl().add();
  f.get("N").i32(2).shl().get("kc").get("jw").get("scratch").get("jw").i32(-8).and()
    .call(FN.packScalar);
  f.end();
  f.i32(0).set("i");
  f.block();
  f.loop(); // rows of A, MR at a time
  f.get("i").get("M").geU().brIf(1);
  remaining(f, "M", "i", MR);
  f.set("mr");
  f.get("flags").i32(1).and().if();
  f.get("a").get("k0").get("M").mul().get("i").add().i32(2).shl().add().set("ap");
  f.get("M").i32(2).shl().set("lda");
  f.else();
  f.get("a").get("i").get("K").mul().get("k0").add().i32(2).shl().add().set("ap");
  f.get("K").i32(2).shl().set("lda");
  f.end();
  f.i32(0).set("p");
  f.loop(); // panels of 8 columns
  remaining(f, "jw", "p", 8);
  f.set("cols");
  f.get("scratch").get("p").get("kc").mul().i32(2).shl().add().set("bp");
  f.get("c").get("i").get("N").mul().get("j0").add().get("p").add().i32(2).shl().add().set("cp");
  const dispatch = (transposedA: boolean, full: boolean) => {
    const push = () => {
      f.get("ap").get("lda").get("bp");
      if (full) f.get("cp").get("N").i32(2).shl();
      else f.get(tile).i32(32);
      f.get("kc");
      if (full) f.get("k0");
      else f.i32(0);
    };
    for (let rows = MR; rows > 1; rows--) {
      f.get("mr").i32(rows).eq().if();
      push();
      f.call(FN.kernel(rows, transposedA));
      f.else();
    }
    push();
    f.call(FN.kernel(1, transposedA));
    for (let rows = MR; rows > 1; rows--) f.end();
  };
  f.get("cols").i32(8).eq().if();
  f.get("flags").i32(1).and().if();
  dispatch(true, true);
  f.else();
  dispatch(false, true);
  f.end();
  f.else();
  f.get("flags").i32(1).and().if();
  dispatch(true, false);
  f.else();
  dispatch(false, false);
  f.end();
  f.get(tile).get("cp").get("N").i32(2).shl().get("mr").get("cols").get("k0").call(FN.tailCopy);
  f.end();
  f.get("p").i32(8).add().set("p");
  f.get("p").get("jw").ltU().brIf(0);
  f.end();
  f.get("i").i32(MR).add().set("i");
  f.br(0);
  f.end();
  f.end();
  f.get("k0").get("kc").add().set("k0");
  f.get("k0").get("K").ltU().brIf(0);
  f.end();
  f.get("j0").get("jw").add().set("j0");
  f.get("j0").get("N").ltU().brIf(0);
  f.end();
  return f;
}

/** The module's bytes: kernels of 1 … 6 rows (plain and transposed A), packers, the exported `gemm`. */
export function relaxedGemmModule(): Uint8Array<ArrayBuffer> {
  const functions: ModuleFunction[] = [];
  for (const transposedA of [false, true]) {
    for (let rows = 1; rows <= MR; rows++) functions.push({ body: microKernel(rows, transposedA) });
  }
  functions.push({ body: packPanels() });
  functions.push({ body: packScalar(false) });
  functions.push({ body: packScalar(true) });
  functions.push({ body: tailCopy() });
  functions.push({ body: gemm(), exportName: "gemm" });
  return writeModule(functions);
}

/**
 * `C = A·B` on byte addresses of `memory`, as described in the module doc: `a` holds `A`
 * (`[m, k]`) or, with `transposeA`, `Aᵀ` (`[k, m]`); `b` holds `B` (`[k, n]`) or, with
 * `transposeB`, `Bᵀ` (`[n, k]`); `scratch` has at least {@link GEMM_SCRATCH_BYTES} bytes.
 */
export type RelaxedGemm = (
  a: number,
  b: number,
  c: number,
  m: number,
  n: number,
  k: number,
  scratch: number,
  transposeA: boolean,
  transposeB: boolean,
) => void;
let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or `null` where this engine has no relaxed SIMD. */
function compiledModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = relaxedGemmModule();
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/**
 * Whether this engine compiles the relaxed-SIMD product (V8 does, in Deno 2 and Chrome ≥ 114).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relaxedGemmSupported } from "./_relaxed_gemm.ts";
 *
 * assert.equal(typeof relaxedGemmSupported(), "boolean");
 * ```
 */
export function relaxedGemmSupported(): boolean {
  return compiledModule() !== null;
}

/**
 * The product on `memory`, or `null` where the engine lacks relaxed SIMD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relaxedGemmOn } from "./_relaxed_gemm.ts";
 *
 * const memory = new WebAssembly.Memory({ initial: 8 });
 * const run = relaxedGemmOn(memory);
 * if (run !== null) {
 *   const f = new Float32Array(memory.buffer);
 *   f.set([1, 2], 0); // A: 1×2
 *   f.set([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 4); // B: 2×8
 *   run(0, 16, 128, 1, 8, 2, 1024, false, false);
 *   assert.deepEqual(Array.from(f.subarray(32, 34)), [1, 2]);
 * }
 * ```
 */
export function relaxedGemmOn(memory: WebAssembly.Memory): RelaxedGemm | null {
  const module = compiledModule();
  if (module === null) return null;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const run = instance.exports["gemm"] as (...args: number[]) => void;
  return (a, b, c, m, n, k, scratch, transposeA, transposeB) =>
    run(
      a,
      b,
      c,
      m,
      n,
      k,
      scratch,
      GEMM_BLOCK_COLUMNS,
      GEMM_BLOCK_DEPTH,
      (transposeA ? 1 : 0) | (transposeB ? 2 : 0),
    );
}
