/**
 * The gradient seam of a training step: **gradients of a batch slice**. One optimizer step's
 * batch is cut into slices (micro-batches); {@linkcode sliceGradients} computes the weighted
 * loss and the gradients of one slice, {@linkcode accumulateSlices} sums a list of slices in
 * order. The in-process step, the micro-batch loop and the data-parallel workers
 * (`train/worker_pool.ts`) all go through these two functions, so they compute the same thing.
 *
 * ## Loss weighting
 *
 * Every task loss is a mean over the examples of its batch (GLUE cross-entropy/MSE, SQuAD's
 * start/end cross-entropy, the planted MSE). Slice `m` with `n_m` of the step's `N` examples
 * gets weight `n_m / N`, so `Σ_m (n_m/N)·mean_m = mean over the batch` — exact for an uneven
 * last slice too. Padding is per slice (collate pads to the slice's longest sequence); padded
 * positions are masked in attention, so that changes results only by float32 round-off. The
 * orthogonality penalty depends on the adapters alone and is added once, on slice 0.
 *
 * ## What "per step" means for each method under accumulation (docs/METHOD.md)
 *
 * Every controller sees one gradient per optimizer step: the accumulated (summed, weighted)
 * gradient of the whole batch, exactly the gradient a single full-batch backward would give.
 * - AdaLoRA: the sensitivity `|p ⊙ ∇p|` and its EMAs are updated once per optimizer step, in
 *   `afterStep`, from the accumulated gradient (never per micro-batch).
 * - IncreLoRA: the score `Σ|ΔW ⊙ ∂L/∂ΔW| / √(d·n)` is computed once per optimizer step from the
 *   accumulated `∂L/∂ΔW` and the pre-update `ΔW`: with more than one slice (or workers) the
 *   adapters sum `(∂L/∂ΔW)ᵀ` over the slices' backward passes
 *   (`IncreLoraAdapter.accumulateScoreGradient`) and {@linkcode finishScoreGradients} turns the
 *   sum into the step's score before the optimizer moves `ΔW`. (Summing per-slice scores instead
 *   would give `Σ_m |ΔW ⊙ G_m| ≥ |ΔW ⊙ Σ_m G_m|`, a different, batch-split-dependent score.)
 *   Where the model calls a linear more than once per forward (DeBERTa's Wq and Wk also project
 *   the relative-position embeddings), the single backward pass scores each call site on its
 *   own and adds the site scores; accumulation keeps one gradient sum per call site to match.
 * - TriAdaptLoRA: its importance (the change of `‖L+U‖_F / r`) reads parameters only, after the
 *   optimizer step, so accumulation cannot change it beyond round-off of the update.
 * - The sampler, the learning-rate schedules, the allocation steps and the optimizer step count
 *   are per optimizer step and never see micro-batches.
 *
 * ## Randomness
 *
 * With one slice the forward seed and the adapters' dropout index are the step's (as without
 * this module). With `M > 1` slices, slice `m` draws its own seed and dropout index from
 * `(step, m)`: for a fixed micro-batch size a run is the same for any worker count (up to the
 * float32 order of the gradient sum), but dropout masks differ from the full-batch run's.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { DebertaModel } from "../model/deberta_v3.ts";
import type { Adapter } from "../ops/adapter.ts";
import { orthogonalityPenalty } from "../ops/orthogonality.ts";
import type { TrainingTask } from "./loop.ts";

/**
 * One slice (micro-batch) of an optimizer step's batch.
 *
 * @example The single slice of a whole batch
 * ```ts
 * import assert from "node:assert/strict";
 * import { planSlices, type GradientSlice } from "./gradients.ts";
 *
 * const [slice] = planSlices([3, 1, 2], { step: 1, seed: 0 }) as [GradientSlice];
 * assert.deepEqual(slice.indices, [3, 1, 2]);
 * assert.equal(slice.weight, 1);
 * ```
 */
export interface GradientSlice {
  /** Position of the slice in the step (0-based). */
  readonly index: number;
  /** Training example indices of the slice. */
  readonly indices: readonly number[];
  /** Loss weight `n_m / N` (1 for a single slice). */
  readonly weight: number;
  /** Seed of this slice's forward (model dropout). */
  readonly seed: number;
  /** Dropout index handed to adapters with `setDropoutStep` before this slice's forward. */
  readonly dropoutStep: number;
  /** Whether the orthogonality penalty is added to this slice's loss (slice 0 only). */
  readonly penalty: boolean;
}

/**
 * Options of {@linkcode planSlices}.
 *
 * @example Micro-batches of two
 * ```ts
 * import assert from "node:assert/strict";
 * import { planSlices, type SliceOptions } from "./gradients.ts";
 *
 * const options: SliceOptions = { step: 3, seed: 1, microBatch: 2 };
 * assert.equal(planSlices([0, 1, 2, 3, 4], options).length, 3);
 * ```
 */
export interface SliceOptions {
  /** The optimizer step the slices belong to (1-based). */
  readonly step: number;
  /** The run seed. */
  readonly seed: number;
  /** Examples per slice; absent or ≥ the batch: one slice. */
  readonly microBatch?: number;
}

const SEED_MOD = 2_147_483_647;

/**
 * The forward seed of a step (the run's historical derivation: `seed·1000003 + step`).
 *
 * @param seed Run seed.
 * @param step Optimizer step (1-based).
 * @returns A non-negative integer below 2³¹ − 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stepForwardSeed } from "./gradients.ts";
 *
 * assert.equal(stepForwardSeed(0, 5), 5);
 * ```
 */
export function stepForwardSeed(seed: number, step: number): number {
  return (seed * 1_000_003 + step) % SEED_MOD;
}

/**
 * Cuts a step's batch into slices of `microBatch` examples (the last one may be smaller),
 * weighted `n_m / N`. One slice keeps the step's own seed and dropout index.
 *
 * @param indices The batch's example indices, in sampler order.
 * @param options Step, seed and micro-batch size.
 * @returns The slices in order.
 * @throws {RangeError} When `microBatch` is not a positive integer or the batch is empty.
 *
 * @example An uneven last micro-batch
 * ```ts
 * import assert from "node:assert/strict";
 * import { planSlices } from "./gradients.ts";
 *
 * const slices = planSlices([0, 1, 2, 3, 4], { step: 1, seed: 0, microBatch: 2 });
 * assert.deepEqual(slices.map((s) => s.indices.length), [2, 2, 1]);
 * assert.deepEqual(slices.map((s) => s.weight), [0.4, 0.4, 0.2]);
 * assert.deepEqual(slices.map((s) => s.penalty), [true, false, false]);
 * ```
 */
export function planSlices(indices: readonly number[], options: SliceOptions): GradientSlice[] {
  const n = indices.length;
  if (n === 0) {
    throw new RangeError(
      "Cannot plan micro-batches as the batch must not be empty: current size 0",
    );
  }
  const micro = options.microBatch ?? n;
  if (!Number.isSafeInteger(micro) || micro < 1) {
    throw new RangeError(
      `Cannot plan micro-batches as microBatch must be a positive integer: current value is ${micro}`,
    );
  }
  const forwardSeed = stepForwardSeed(options.seed, options.step);
  if (micro >= n) {
    return [{
      index: 0,
      indices: [...indices],
      weight: 1,
      seed: forwardSeed,
      dropoutStep: options.step,
      penalty: true,
    }];
  }
  const count = Math.ceil(n / micro);
  return Array.from({ length: count }, (_, m) => {
    const part = indices.slice(m * micro, Math.min(n, (m + 1) * micro));
    return {
      index: m,
      indices: part,
      weight: part.length / n,
      seed: (forwardSeed * 7919 + m + 1) % SEED_MOD,
      dropoutStep: options.step * 65_536 + m,
      penalty: m === 0,
    };
  });
}

/**
 * What a slice's gradient computation needs: the task, the model with adapters attached, the
 * adapters (module order) and the penalty weight.
 *
 * @example Built from a trainer's parts
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GradientContext } from "./gradients.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const context: GradientContext = { task, model, adapters: [], orthRegWeight: 0 };
 * assert.equal(context.adapters.length, 0);
 * model.dispose();
 * task.dispose();
 * ```
 */
export interface GradientContext {
  /** The task (its `loss` is called inside `tf.variableGrads`). */
  readonly task: TrainingTask;
  /** The model with the adapters attached. */
  readonly model: DebertaModel;
  /** The adapters in module order. */
  readonly adapters: readonly Adapter[];
  /** Weight of the orthogonality penalty (0: not computed). */
  readonly orthRegWeight: number;
}

/**
 * The gradients of one step (or of some of its slices): the weighted loss and the summed
 * gradient of every trainable variable, by variable name. The caller owns the tensors.
 *
 * @example Disposing step gradients
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { StepGradients } from "./gradients.ts";
 *
 * const g: StepGradients = { loss: tf.scalar(1), grads: { w: tf.ones([2]) } };
 * tf.dispose([g.loss, ...Object.values(g.grads)]);
 * assert.ok(g.loss.isDisposed);
 * ```
 */
export interface StepGradients {
  /** `Σ_m weight_m · loss_m` (+ the penalty term). */
  readonly loss: tf.Scalar;
  /** Summed gradients by variable name. */
  readonly grads: tf.NamedTensorMap;
}

/**
 * The variables a step differentiates: every adapter's trainable variables (module order),
 * then the model's head. Workers rely on this order to address gradients by position.
 *
 * @param adapters The adapters in module order.
 * @param model The model.
 * @returns The variables.
 *
 * @example No adapters, no head
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainableList } from "./gradients.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * assert.equal(trainableList([], model).length, model.trainableVariables().length);
 * model.dispose();
 * task.dispose();
 * ```
 */
export function trainableList(adapters: readonly Adapter[], model: DebertaModel): tf.Variable[] {
  return [...adapters.flatMap((a) => a.trainableVariables()), ...model.trainableVariables()];
}

/**
 * Hands a dropout index to every adapter that takes one (`setDropoutStep`).
 *
 * @param adapters The adapters.
 * @param index The index (the step for one slice).
 *
 * @example Adapters without the hook are left alone
 * ```ts
 * import { setAdapterDropoutStep } from "./gradients.ts";
 *
 * setAdapterDropoutStep([], 3);
 * ```
 */
export function setAdapterDropoutStep(adapters: readonly Adapter[], index: number): void {
  for (const a of adapters) {
    const withStep = a as Adapter & { setDropoutStep?: (calls: number) => void };
    withStep.setDropoutStep?.(index);
  }
}

/**
 * **Gradients of a batch slice**: `weight · task.loss(slice)` (+ `orthRegWeight · penalty` on
 * slice 0) and its gradient with respect to `varList`.
 *
 * @param context Task, model, adapters and penalty weight.
 * @param slice The slice.
 * @param varList The variables to differentiate (see {@linkcode trainableList}).
 * @returns The weighted loss and gradients, owned by the caller.
 *
 * @example One slice of a tiny planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { injectAdapters } from "../model/inject.ts";
 * import { createAdapter } from "../ops/registry.ts";
 * import { planSlices, sliceGradients, trainableList } from "./gradients.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const adapters = [...injectAdapters(model, (m) =>
 *   createAdapter("lora", { ...m, seed: 1, rank: 2 })).values()];
 * const [slice] = planSlices([0, 1], { step: 1, seed: 1 });
 * const g = sliceGradients({ task, model, adapters, orthRegWeight: 0 }, slice!,
 *   trainableList(adapters, model));
 * assert.equal(Object.keys(g.grads).length, trainableList(adapters, model).length);
 * tf.dispose([g.loss, ...Object.values(g.grads)]);
 * for (const a of adapters) a.dispose();
 * model.dispose();
 * task.dispose();
 * ```
 */
export function sliceGradients(
  context: GradientContext,
  slice: GradientSlice,
  varList: tf.Variable[],
): StepGradients {
  const { task, model, adapters, orthRegWeight } = context;
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      let loss = task.loss(model, slice.indices, { training: true, seed: slice.seed });
      if (slice.weight !== 1) loss = loss.mul(slice.weight);
      if (orthRegWeight === 0 || !slice.penalty) return loss;
      return loss.add(orthogonalityPenalty(adapters).mul(orthRegWeight)) as tf.Scalar;
    }), varList);
  return { loss: value, grads };
}

/**
 * Sums the gradients of `slices` in their order (`((g₀ + g₁) + g₂) + …`), one slice's backward
 * at a time, so peak memory is one slice's activations. Sets each slice's dropout index first.
 *
 * @param context Task, model, adapters and penalty weight.
 * @param slices The slices (at least one).
 * @param varList The variables to differentiate.
 * @returns The summed loss and gradients, owned by the caller.
 * @throws {RangeError} When `slices` is empty.
 *
 * @example Two micro-batches sum to about the full batch
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { injectAdapters } from "../model/inject.ts";
 * import { createAdapter } from "../ops/registry.ts";
 * import { accumulateSlices, planSlices, trainableList } from "./gradients.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const adapters = [...injectAdapters(model, (m) =>
 *   createAdapter("lora", { ...m, seed: 1, rank: 2 })).values()];
 * const context = { task, model, adapters, orthRegWeight: 0 };
 * const vars = trainableList(adapters, model);
 * const full = accumulateSlices(context, planSlices([0, 1, 2], { step: 1, seed: 1 }), vars);
 * const micro = accumulateSlices(
 *   context, planSlices([0, 1, 2], { step: 1, seed: 1, microBatch: 2 }), vars);
 * assert.ok(Math.abs(full.loss.dataSync()[0]! - micro.loss.dataSync()[0]!) < 1e-5);
 * tf.dispose([full.loss, micro.loss, ...Object.values(full.grads), ...Object.values(micro.grads)]);
 * for (const a of adapters) a.dispose();
 * model.dispose();
 * task.dispose();
 * ```
 */
export function accumulateSlices(
  context: GradientContext,
  slices: readonly GradientSlice[],
  varList: tf.Variable[],
): StepGradients {
  if (slices.length === 0) {
    throw new RangeError(
      "Cannot accumulate gradients as slices must not be empty: current count 0",
    );
  }
  let total: StepGradients | undefined;
  for (const slice of slices) {
    setAdapterDropoutStep(context.adapters, slice.dropoutStep);
    for (const a of context.adapters) if (hasScoreGradient(a)) a.beginScoreForward();
    const part = sliceGradients(context, slice, varList);
    if (total === undefined) {
      total = part;
      continue;
    }
    const prev: StepGradients = total;
    const grads: tf.NamedTensorMap = { ...prev.grads };
    for (const [name, g] of Object.entries(part.grads)) {
      const before = prev.grads[name];
      grads[name] = before === undefined ? g : tf.add(before, g);
    }
    total = { loss: tf.add(prev.loss, part.loss), grads };
    tf.dispose([prev.loss, part.loss]);
    for (const [name, g] of Object.entries(part.grads)) {
      const before = prev.grads[name];
      if (before !== undefined) tf.dispose([before, g]);
    }
  }
  return total as StepGradients;
}

/**
 * The IncreLoRA hooks of accumulation (duck-typed, so `train/` needs no method switch).
 *
 * @example An object with the hooks
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScoreGradientAdapter } from "./gradients.ts";
 *
 * const a: Pick<ScoreGradientAdapter, "accumulateScoreGradient"> = { accumulateScoreGradient: false };
 * assert.equal(a.accumulateScoreGradient, false);
 * ```
 */
export interface ScoreGradientAdapter extends Adapter {
  /** When true, backward passes sum `(∂L/∂ΔW)ᵀ` for the score instead of scoring each pass. */
  accumulateScoreGradient: boolean;
  /** Whether backward passes track the score at all. */
  trackScore: boolean;
  /** Numbers the call sites of the next training forward from 0. */
  beginScoreForward(): void;
  /** Removes and returns the summed `(∂L/∂ΔW)ᵀ` of each call site of the forward. */
  takeScoreGradient(): tf.Tensor2D[];
  /** Adds a `(∂L/∂ΔW)ᵀ` of call site `site`, computed elsewhere (a worker), to its sum. */
  addScoreGradient(site: number, gradWT: tf.Tensor2D): void;
  /** Turns the summed gradient into this step's pending score, with the current `ΔW`. */
  finishScoreGradient(): void;
}

/**
 * Whether an adapter has the IncreLoRA accumulation hooks.
 *
 * @param a An adapter.
 * @returns True for adapters with `accumulateScoreGradient`.
 *
 * @example LoRA has none
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAdapter } from "../ops/registry.ts";
 * import { hasScoreGradient } from "./gradients.ts";
 *
 * const a = createAdapter("lora", { name: "m", inFeatures: 2, outFeatures: 2, seed: 1, rank: 1 });
 * assert.equal(hasScoreGradient(a), false);
 * a.dispose();
 * ```
 */
export function hasScoreGradient(a: Adapter): a is ScoreGradientAdapter {
  return typeof (a as Partial<ScoreGradientAdapter>).finishScoreGradient === "function";
}

/**
 * Switches every IncreLoRA adapter to summing `∂L/∂ΔW` over backward passes (on) or to scoring
 * each backward pass (off, the single-slice path).
 *
 * @param adapters The adapters.
 * @param on The mode.
 *
 * @example
 * ```ts
 * import { setScoreGradientMode } from "./gradients.ts";
 *
 * setScoreGradientMode([], true);
 * ```
 */
export function setScoreGradientMode(adapters: readonly Adapter[], on: boolean): void {
  for (const a of adapters) if (hasScoreGradient(a)) a.accumulateScoreGradient = on;
}

/**
 * Turns every IncreLoRA adapter's summed `∂L/∂ΔW` into the step's score, once per optimizer
 * step and before the optimizer changes `ΔW`.
 *
 * @param adapters The adapters.
 *
 * @example
 * ```ts
 * import { finishScoreGradients } from "./gradients.ts";
 *
 * finishScoreGradients([]);
 * ```
 */
export function finishScoreGradients(adapters: readonly Adapter[]): void {
  for (const a of adapters) if (hasScoreGradient(a)) a.finishScoreGradient();
}

/**
 * Where a trainer gets a step's gradients when not in-process: the data-parallel worker pool
 * implements it (`train/worker_pool.ts`).
 *
 * @example A source that computes in-process
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GradientSource } from "./gradients.ts";
 *
 * const source: GradientSource = {
 *   label: "test",
 *   workers: 1,
 *   compute: () => Promise.reject(new Error("not used")),
 *   dispose: () => Promise.resolve(),
 * };
 * assert.equal(source.label, "test");
 * await source.dispose();
 * ```
 */
export interface GradientSource {
  /** A short description (e.g. `2 workers`). */
  readonly label: string;
  /** How many replicas share a step (a step without `microBatch` is cut into this many). */
  readonly workers: number;
  /**
   * The summed gradients of `slices`, by the main thread's variable names; IncreLoRA score
   * gradients are added into `context.adapters` (`addScoreGradient`).
   *
   * @param context The main thread's task, model and adapters (their current state is used).
   * @param slices The step's slices.
   * @param varList The main thread's variables, in {@linkcode trainableList} order.
   * @returns The loss and gradients, owned by the caller.
   */
  compute(
    context: GradientContext,
    slices: readonly GradientSlice[],
    varList: tf.Variable[],
  ): Promise<StepGradients>;
  /** Stops the workers. */
  dispose(): Promise<void>;
}
