/**
 * Selective activation recomputation for one encoder layer (docs/METHOD.md §22): a coarse tape
 * that records a layer as frozen linears (with their adapters), cheap "pieces" (GELU, dropout)
 * and "custom" steps with a hand-written gradient (the attention core, the residual LayerNorms),
 * keeps only the steps' inputs and the custom steps' residuals, and runs the backward pass
 * by hand: a frozen linear's input gradient is one product with its weight (its forward is never
 * run again), an adapter's gradients come from a small local `tf.variableGrads` of the adapter
 * alone, a piece is replayed from its saved inputs under a local gradient, and a custom step
 * calls its gradient. Only the cheap pieces run twice, so a step does about one forward and one
 * backward of work while holding a few activations per layer instead of everything tfjs's tape
 * keeps.
 *
 * @internal
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { LinearDelta } from "./linear_adapter.ts";
import { timesWeight } from "./_matmul.ts";

/** A frozen linear `x·wT + bias` and its adapter, as {@link LayerRecorder.linear} needs it. */
export interface RecordedLinear {
  /** The linear's name (for error messages). */
  readonly name: string;
  /** `W0ᵀ`, `[in, out]` (frozen). */
  readonly weightT: tf.Tensor2D;
  /** Returns `W0` (`[out, in]`) kept by the model, for the input gradient; absent: transposed. */
  readonly weight?: () => tf.Tensor2D;
  /** The adapter, if any. */
  readonly delta?: LinearDelta | undefined;
}

/** Whether and how each recorded op is replayed in the backward pass. */
type Step =
  | {
    readonly kind: "linear";
    readonly linear: RecordedLinear;
    readonly input: number;
    readonly output: number;
    readonly state: readonly number[] | undefined;
  }
  | {
    readonly kind: "piece";
    readonly fn: (...xs: tf.Tensor[]) => tf.Tensor;
    readonly inputs: readonly number[];
    readonly output: number;
    readonly site: number;
  }
  | {
    readonly kind: "custom";
    readonly vjp: CustomVjp;
    readonly inputs: readonly number[];
    readonly residuals: readonly number[];
    readonly output: number;
    readonly site: number;
  };

/**
 * The hand-written gradient of a {@link LayerRecorder.custom} step: from its inputs, the
 * residuals its forward kept and the output's gradient, one gradient per input (`undefined`
 * where none is wanted). It runs with the model's dropout sites set back to the step's first.
 */
export type CustomVjp = (
  xs: readonly tf.Tensor[],
  residuals: readonly tf.Tensor[],
  dy: tf.Tensor,
) => readonly (tf.Tensor | undefined)[];

/**
 * The coarse tape of one layer's forward. Values are numbered in the order they appear; inputs
 * of steps are the values the backward pass needs (see {@link LayerRecorder.savedTensors}).
 *
 * @example Record `y = ln(x·wT)` and read back what must be kept
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { LayerRecorder } from "./selective_layer.ts";
 *
 * const rec = new LayerRecorder({ training: true, getSite: () => 0, setSite: () => {} });
 * const x = tf.ones([2, 3]) as tf.Tensor2D;
 * rec.input(x);
 * const w = tf.ones([3, 4]) as tf.Tensor2D;
 * const y = rec.linear({ name: "w", weightT: w }, x, (t) => tf.matMul(t, w));
 * const z = rec.piece((t) => tf.relu(t), [y]);
 * assert.deepEqual(z.shape, [2, 4]);
 * assert.equal(rec.savedTensors().length, 2); // x and y
 * ```
 */
export class LayerRecorder {
  readonly #ids = new Map<tf.Tensor, number>();
  readonly #values: tf.Tensor[] = [];
  readonly #needsGrad: boolean[] = [];
  readonly #steps: Step[] = [];
  #inputId = -1;
  readonly #training: boolean;
  readonly #getSite: () => number;
  readonly #setSite: (site: number) => void;

  /**
   * @param options `training` (passed to adapters), and the model's dropout-site counter
   *   (`getSite` / `setSite`), so that a replayed piece draws the forward's dropout masks.
   */
  constructor(
    options: {
      readonly training: boolean;
      readonly getSite: () => number;
      readonly setSite: (site: number) => void;
    },
  ) {
    this.#training = options.training;
    this.#getSite = options.getSite;
    this.#setSite = options.setSite;
  }

  /**
   * Registers the layer input.
   *
   * @param x The input.
   * @param needsGrad Whether its gradient is wanted (false for the first layer, whose input is
   *   the frozen embeddings: the backward then skips the products that only feed it, and
   *   returns zeros for it).
   */
  input(x: tf.Tensor, needsGrad = true): void {
    this.#inputId = this.#register(x, needsGrad);
  }

  /** Registers a tensor the layer reads but does not differentiate (mask, position rows). */
  constant(x: tf.Tensor): void {
    this.#register(x, false);
  }

  /**
   * Runs and records a frozen linear with its adapter.
   *
   * @param linear The weight and adapter.
   * @param x The input (a registered value).
   * @param run Computes `x·wT + bias + delta(x)` (the model's own linear).
   * @returns The output.
   */
  linear(
    linear: RecordedLinear,
    x: tf.Tensor2D,
    run: (x: tf.Tensor2D) => tf.Tensor2D,
  ): tf.Tensor2D {
    const input = this.#id(x, linear.name);
    const state = linear.delta?.forwardState?.();
    const y = run(x);
    const output = this.#register(y, this.#needsGrad[input]! || linear.delta !== undefined);
    this.#steps.push({ kind: "linear", linear, input, output, state });
    return y;
  }

  /**
   * Runs and records a piece: a function of registered values that the backward replays.
   *
   * @param fn The piece; it must read no tensor other than its arguments (and frozen weights).
   * @param inputs Registered values.
   * @returns Its output.
   */
  piece<T extends tf.Tensor>(fn: (...xs: tf.Tensor[]) => T, inputs: readonly tf.Tensor[]): T {
    const ids = inputs.map((t) => this.#id(t, "a piece"));
    const site = this.#getSite();
    const y = fn(...inputs);
    // An identity piece (dropout at rate 0) adds no step: its output is its input.
    if (this.#ids.has(y)) return y;
    const output = this.#register(y, ids.some((i) => this.#needsGrad[i]!));
    this.#steps.push({
      kind: "piece",
      fn: fn as (...xs: tf.Tensor[]) => tf.Tensor,
      inputs: ids,
      output,
      site,
    });
    return y;
  }

  /**
   * Runs and records a step with a hand-written gradient: its forward returns the value and the
   * residuals the gradient needs (kept instead of the step's inner activations), and the
   * backward calls `vjp` instead of replaying the step.
   *
   * @param fn The forward; it must read no tensor other than its arguments (and frozen weights).
   * @param inputs Registered values.
   * @param vjp The gradient (see {@link CustomVjp}).
   * @returns The value.
   */
  custom<T extends tf.Tensor>(
    fn: (...xs: tf.Tensor[]) => { value: T; residuals: readonly tf.Tensor[] },
    inputs: readonly tf.Tensor[],
    vjp: CustomVjp,
  ): T {
    const ids = inputs.map((t) => this.#id(t, "a custom step"));
    const site = this.#getSite();
    const { value, residuals } = fn(...inputs);
    const residualIds = residuals.map((r) => this.#register(r, false));
    const output = this.#register(value, ids.some((i) => this.#needsGrad[i]!));
    this.#steps.push({ kind: "custom", vjp, inputs: ids, residuals: residualIds, output, site });
    return value;
  }

  /**
   * The values the backward pass reads (every step's inputs), in value order; hand them to the
   * custom gradient's `save` and back to {@link LayerRecorder.backward}.
   */
  savedTensors(): tf.Tensor[] {
    return this.#savedIds().map((i) => this.#values[i]!);
  }

  /**
   * The backward pass: gradients of the layer input and of the adapters' variables.
   *
   * @param saved The tensors of {@link LayerRecorder.savedTensors}, as the gradient engine kept them.
   * @param output The layer output (a recorded value, the one `dy` belongs to).
   * @param dy Gradient of the output.
   * @param vars The variables to differentiate, in the order the caller returns them.
   * @returns `dx` (shape of the registered input, zeros if no path) and one gradient per variable.
   */
  backward(
    saved: readonly tf.Tensor[],
    output: tf.Tensor,
    dy: tf.Tensor,
    vars: readonly tf.Variable[],
  ): { dx: tf.Tensor; varGrads: tf.Tensor[] } {
    const outId = this.#id(output, "the layer output");
    const values = new Map<number, tf.Tensor>();
    this.#savedIds().forEach((id, j) => values.set(id, saved[j]!));
    const grads = new Map<number, tf.Tensor>([[outId, dy]]);
    const varGrads = new Map<string, tf.Tensor>();
    const accumulate = (id: number, g: tf.Tensor): void => {
      const old = grads.get(id);
      if (old === undefined) grads.set(id, tf.keep(g));
      else {
        grads.set(id, tf.keep(tf.add(old, g)));
        if (old !== dy) old.dispose();
        g.dispose();
      }
    };
    const siteNow = this.#getSite();
    try {
      for (let j = this.#steps.length - 1; j >= 0; j--) {
        const step = this.#steps[j]!;
        const g = grads.get(step.output);
        if (g === undefined) continue;
        if (step.kind === "linear") {
          const x = values.get(step.input)!;
          const wantX = this.#needsGrad[step.input]!;
          tf.tidy(() => {
            let dx: tf.Tensor | undefined = wantX
              ? timesWeight(g as tf.Tensor2D, step.linear.weightT, step.linear.weight)
              : undefined;
            const delta = step.linear.delta;
            if (delta !== undefined) {
              if (step.state !== undefined) delta.restoreForwardState?.(step.state);
              const own = (delta.trainableVariables?.() ?? []).filter((v) => v.trainable);
              // The adapter's own gradient by hand where it has one, else a nested gradient.
              const hand = delta.deltaBackward?.(
                x as tf.Tensor2D,
                g as tf.Tensor2D,
                this.#training,
                wantX,
              );
              const r = hand !== undefined
                ? {
                  inputs: [hand.input],
                  vars: new Map(own.flatMap((v) => {
                    const gv = hand.variables.get(v);
                    return gv === undefined ? [] : [[v.name, gv] as const];
                  })),
                }
                : nestedGrads(
                  (xv) => delta.delta(xv as tf.Tensor2D, this.#training),
                  [x],
                  [wantX],
                  g,
                  own,
                );
              const dxDelta = r.inputs[0];
              if (dxDelta !== undefined) dx = dx === undefined ? dxDelta : tf.add(dx, dxDelta);
              for (const v of own) {
                const gv = r.vars.get(v.name);
                if (gv === undefined) continue;
                const old = varGrads.get(v.name);
                varGrads.set(v.name, tf.keep(old === undefined ? gv : tf.add(old, gv)));
                old?.dispose();
              }
            }
            if (dx !== undefined) accumulate(step.input, tf.keep(dx));
          });
        } else if (step.kind === "custom") {
          const xs = step.inputs.map((i) => values.get(i)!);
          const residuals = step.residuals.map((i) => values.get(i)!);
          tf.tidy(() => {
            this.#setSite(step.site);
            const r = step.vjp(xs, residuals, g);
            step.inputs.forEach((id, k) => {
              const d = r[k];
              if (d !== undefined && this.#needsGrad[id]) accumulate(id, tf.keep(d));
            });
          });
        } else {
          const xs = step.inputs.map((i) => values.get(i)!);
          const want = step.inputs.map((i) => this.#needsGrad[i]!);
          tf.tidy(() => {
            this.#setSite(step.site);
            const r = nestedGrads(step.fn, xs, want, g).inputs;
            step.inputs.forEach((id, k) => {
              const d = r[k];
              if (d !== undefined) accumulate(id, tf.keep(d));
            });
          });
        }
        grads.delete(step.output);
        if (g !== dy) g.dispose();
      }
    } finally {
      this.#setSite(siteNow);
    }
    // Results leave as plain (un-kept) tensors of the caller's scope: the engine frees them.
    const handOut = (t: tf.Tensor | undefined, like: tf.Tensor): tf.Tensor => {
      if (t === undefined) return tf.zerosLike(like);
      const out = tf.clone(t);
      if (t !== dy) t.dispose();
      return out;
    };
    const inputId = this.#inputId;
    const dx = handOut(grads.get(inputId), values.get(inputId)!);
    for (const [id, t] of grads) if (id !== inputId && t !== dy) t.dispose();
    return { dx, varGrads: vars.map((v) => handOut(varGrads.get(v.name), v)) };
  }

  #savedIds(): number[] {
    const ids = new Set<number>();
    for (const step of this.#steps) {
      if (step.kind === "linear") ids.add(step.input);
      else for (const i of step.inputs) ids.add(i);
      if (step.kind === "custom") { for (const i of step.residuals) ids.add(i); }
    }
    return [...ids].sort((a, b) => a - b);
  }

  #register(x: tf.Tensor, needsGrad: boolean): number {
    const known = this.#ids.get(x);
    if (known !== undefined) return known;
    const id = this.#values.length;
    this.#ids.set(x, id);
    this.#values.push(x);
    this.#needsGrad.push(needsGrad);
    return id;
  }

  #id(x: tf.Tensor, what: string): number {
    const id = this.#ids.get(x);
    if (id === undefined) {
      throw new TypeError(
        `Cannot record ${what} for selective recomputation as every tensor it reads must be the layer input, a registered constant or a recorded output: current tensor has shape [${x.shape}]`,
      );
    }
    return id;
  }
}

/**
 * Runs `f` (a `tf.variableGrads` inside a backward pass) and hands the engine's active tape back
 * afterwards: the inner call replaces it, and the outer pass still needs it to free its saved
 * tensors.
 *
 * @param f The nested gradient computation.
 * @returns What `f` returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withOuterTape } from "./selective_layer.ts";
 *
 * assert.equal(withOuterTape(() => 3), 3);
 * ```
 */
export function withOuterTape<T>(f: () => T): T {
  const engine = tf.engine();
  const outer = engine.state.activeTape;
  try {
    return f();
  } finally {
    engine.state.activeTape = outer;
  }
}

/**
 * The vector-Jacobian product of `fn` inside a backward pass: gradients of `Σ fn(xs) ⊙ dy` with
 * respect to the inputs flagged in `want` (`undefined` for the others) and to `vars` (by name,
 * those that receive one).
 */
function nestedGrads(
  fn: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: readonly tf.Tensor[],
  want: readonly boolean[],
  dy: tf.Tensor,
  vars: readonly tf.Variable[] = [],
): { inputs: (tf.Tensor | undefined)[]; vars: Map<string, tf.Tensor> } {
  const vs = xs.map((x, k) => (want[k] ? tf.variable(x, true) : undefined));
  const own = vs.filter((v): v is tf.Variable => v !== undefined);
  const all = [...own, ...vars];
  if (all.length === 0) return { inputs: xs.map(() => undefined), vars: new Map() };
  try {
    const { value, grads } = withOuterTape(() =>
      tf.variableGrads(() => tf.sum(tf.mul(fn(...xs.map((x, k) => vs[k] ?? x)), dy)), all)
    );
    value.dispose();
    const byName = new Map<string, tf.Tensor>();
    for (const v of vars) {
      const g = grads[v.name];
      if (g !== undefined) byName.set(v.name, g);
    }
    return { inputs: vs.map((v) => (v === undefined ? undefined : grads[v.name])), vars: byName };
  } finally {
    for (const v of own) v.dispose();
  }
}
