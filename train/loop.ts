/**
 * The training loop: one step is batch → forward with adapters (+ orthogonality penalty) →
 * gradients for adapter and head variables only → the controller's `beforeUpdate` (TriAdaptLoRA
 * grows here, as the reference trainer does: after backward, before `optimizer.step`) → clipping →
 * growing AdamW with per-block LR schedules → the controller's `afterStep` (AdaLoRA masks,
 * IncreLoRA scores and grows). The loop owns every effect (tensors, files, clock); `core/` owns
 * every decision (through the controllers).
 *
 * Learning rate (docs/METHOD.md §19): update `u` of a block born at step `b` uses
 * `lrMultiplier(u − 1)`, the reference scheduler's convention (`scheduler.step()` after
 * `optimizer.step()`), so update 1 and a new block's first Adam step (update `b + 1`) get rate 0
 * whenever there is a warm-up.
 *
 * Tasks plug in through {@linkcode TrainingTask}: the planted synthetic task is the first
 * implementation (`train/planted/`); GLUE and SQuAD tasks implement the same interface.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { lrMultiplier } from "../core/lr_schedule.ts";
import type { DebertaModel } from "../model/deberta_v3.ts";
import type { BlockStepInfo } from "../ops/growing_adamw.ts";
import { GrowingAdamW } from "../ops/growing_adamw.ts";
import type { Adapter } from "../ops/adapter.ts";
import {
  accumulateSlices,
  finishScoreGradients,
  type GradientSource,
  planSlices,
  setScoreGradientMode,
  type StepGradients,
  trainableList,
} from "./gradients.ts";
import { createSampler, type Sampler } from "./features/sampler.ts";
import type { Controller, ControllerState } from "./controllers/controller.ts";

/**
 * The result of one evaluation: the task's main metric and every metric it computed.
 *
 * @example Evaluating a tiny planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskEvaluation } from "./loop.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const result: TaskEvaluation = await task.evaluate(model, { ranks: new Map() });
 * assert.equal(result.all[result.metric], result.value);
 * model.dispose();
 * task.dispose();
 * ```
 */
export interface TaskEvaluation {
  /** Name of the main metric (e.g. `accuracy`, `heldout_mse`). */
  readonly metric: string;
  /** Value of the main metric. */
  readonly value: number;
  /** Every metric computed (the main one included). */
  readonly all: Readonly<Record<string, number>>;
}

/**
 * What a task may look at besides the model when it evaluates.
 *
 * @example Ranks by module name
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EvalContext } from "./loop.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const context: EvalContext = { ranks: new Map() };
 * assert.ok(Number.isFinite((await task.evaluate(model, context)).value));
 * model.dispose();
 * task.dispose();
 * ```
 */
export interface EvalContext {
  /** Current rank of each adapted module, by module name. */
  readonly ranks: ReadonlyMap<string, number>;
}

/**
 * A fine-tuning task as the loop sees it. The planted task implements it; GLUE/SQuAD tasks will
 * too. Examples are addressed by index `0 … numTrainExamples − 1`; the loop's seeded sampler
 * picks the indices of every batch.
 *
 * @example The planted task is a training task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainingTask } from "./loop.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task: TrainingTask = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * assert.equal(task.numTrainExamples, 8);
 * assert.equal(task.name, "planted");
 * task.dispose();
 * ```
 */
export interface TrainingTask {
  /** Task id (`planted`, `rte`, …). */
  readonly name: string;
  /** Name of the main metric. */
  readonly metricName: string;
  /** Whether a larger main metric is better (accuracy) or worse (held-out loss). */
  readonly metricHigherIsBetter: boolean;
  /** Number of training examples (T = ceil(N / batch) × epochs). */
  readonly numTrainExamples: number;
  /**
   * Builds the frozen base model with the task's head (head variables are trained in full).
   *
   * @param seed Run seed (head init, dropout seeds).
   * @returns A model owned by the caller.
   */
  buildModel(seed: number): DebertaModel;
  /**
   * The task loss of one batch; called inside `tf.variableGrads`, so it must stay synchronous.
   *
   * @param model The model with adapters attached.
   * @param indices Training example indices of the batch.
   * @param options `training` (dropout) and `seed` (this forward's dropout seed).
   * @returns A scalar.
   */
  loss(
    model: DebertaModel,
    indices: readonly number[],
    options: { readonly training: boolean; readonly seed: number },
  ): tf.Scalar;
  /**
   * Evaluates on held-out data.
   *
   * @param model The model with adapters attached.
   * @param context Current ranks per module.
   * @returns The metrics.
   */
  evaluate(model: DebertaModel, context: EvalContext): Promise<TaskEvaluation>;
  /**
   * Plain-data description for `config.json`.
   *
   * @returns JSON-serialisable facts about the task.
   */
  describe(): Record<string, unknown>;
  /** Frees the task's tensors. */
  dispose(): void;
}

/**
 * Thrown when the loss or a gradient is not finite; the step is not applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NonFiniteError } from "./loop.ts";
 *
 * const e = new NonFiniteError(42, "loss", NaN);
 * assert.ok(e instanceof RangeError);
 * assert.match(e.message, /step 42 is NaN/);
 * ```
 */
export class NonFiniteError extends RangeError {
  /** The optimizer step that produced the non-finite value. */
  readonly step: number;
  /** `loss` or `gradient`. */
  readonly what: "loss" | "gradient";

  /**
   * Creates the error.
   *
   * @param step The failing step.
   * @param what What was not finite.
   * @param value The value read.
   */
  constructor(step: number, what: "loss" | "gradient", value: number) {
    super(
      `Cannot continue training as the ${what} must be finite: current value at step ${step} is ${value}`,
    );
    this.name = "NonFiniteError";
    this.step = step;
    this.what = what;
  }
}

/**
 * What the loop reports after each step (for logging, progress and checkpoints).
 *
 * @example One LoRA step on a tiny planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StepReport } from "./loop.ts";
 * import { injectAdapters } from "../model/inject.ts";
 * import { createAdapter } from "../ops/registry.ts";
 * import { createLoraController } from "./controllers/lora.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { Trainer } from "./loop.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const adapters = [...injectAdapters(model, (m) =>
 *   createAdapter("lora", { ...m, seed: 1, rank: 2 })).values()];
 * const hyper = { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, orthRegWeight: 0 };
 * const trainer = new Trainer({
 *   task, model, adapters, controller: createLoraController(adapters), hyper, totalSteps: 2, seed: 1,
 * });
 * const report: StepReport = await trainer.runStep();
 * assert.equal(report.step, 1);
 * assert.ok(report.loss > 0 && report.event === undefined);
 * trainer.dispose();
 * task.dispose();
 * ```
 */
export interface StepReport {
  /** Optimizer step just applied (1-based). */
  readonly step: number;
  /** Training loss of the batch (task loss + orthogonality term). */
  readonly loss: number;
  /** Base learning rate × the initial blocks' multiplier at this step. */
  readonly lr: number;
  /** The allocation event of this step, if any. */
  readonly event: AllocationEvent | undefined;
}

/**
 * One allocation event (a line of `ranks.jsonl`).
 *
 * @example An event is a `ranks.jsonl` line
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AllocationEvent } from "./loop.ts";
 * import { appendRankEvent, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const event: AllocationEvent = { step: 200, k: 1, scores: [0.3, 0.1], grown: ["q"], ranks: [3, 2], budgetLeft: 4 };
 * await appendRankEvent(run, event);
 * assert.deepEqual(await readJsonLines(run.ranksPath), [event]);
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export interface AllocationEvent {
  /** Optimizer step. */
  readonly step: number;
  /** Matrices the schedule allowed to change. */
  readonly k: number;
  /** Score per module, module order. */
  readonly scores: readonly number[];
  /** Modules that changed (grew, or were masked). */
  readonly grown: readonly string[];
  /** Rank per module after the event. */
  readonly ranks: readonly number[];
  /** Budget left after the event. */
  readonly budgetLeft: number;
}

/**
 * Hyper-parameters of the optimisation (a subset of `HyperParams`).
 *
 * @example The schema defaults are loop hyper-parameters
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LoopHyperParams } from "./loop.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 *
 * const hyper: LoopHyperParams = defaultHyperParams();
 * assert.equal(hyper.batchSize, 32);
 * assert.equal(hyper.lr, 1.2e-3);
 * ```
 */
export interface LoopHyperParams {
  /** Peak learning rate. */
  readonly lr: number;
  /** Warm-up steps of every block's schedule (counted from its birth step). */
  readonly warmupSteps: number;
  /** Decoupled weight decay. */
  readonly weightDecay: number;
  /** AdamW β1. */
  readonly adamBeta1: number;
  /** AdamW β2. */
  readonly adamBeta2: number;
  /** AdamW ε. */
  readonly adamEpsilon: number;
  /** Global-norm clipping; 0 disables it. */
  readonly clipNorm: number;
  /** Weight of the orthogonality penalty (0: not computed). */
  readonly orthRegWeight: number;
  /** Examples per step. */
  readonly batchSize: number;
}

/**
 * The state of a trainer that a checkpoint must capture beyond tensors.
 *
 * @example A fresh LoRA run's plain state
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainerPlainState } from "./loop.ts";
 * import { createLoraController } from "./controllers/lora.ts";
 *
 * const controller = createLoraController([]);
 * const state: TrainerPlainState = { step: 0, controller: controller.snapshot() };
 * assert.equal(JSON.parse(JSON.stringify(state)).step, 0);
 * controller.dispose();
 * ```
 */
export interface TrainerPlainState {
  /** Optimizer steps done. */
  readonly step: number;
  /** The controller's plain state. */
  readonly controller: ControllerState;
}

/**
 * One training run's live objects: model, adapters (module order), optimizer, controller and
 * sampler. `runStep()` runs one optimizer step; everything it allocates is disposed.
 *
 * @example Two steps of LoRA on a tiny planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import { injectAdapters } from "../model/inject.ts";
 * import { createAdapter } from "../ops/registry.ts";
 * import { createLoraController } from "./controllers/lora.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { Trainer } from "./loop.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const adapters = [...injectAdapters(model, (m) =>
 *   createAdapter("lora", { ...m, seed: 1, rank: 2 })).values()];
 * const hyper = { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, orthRegWeight: 0 };
 * const trainer = new Trainer({
 *   task, model, adapters, controller: createLoraController(adapters), hyper, totalSteps: 2, seed: 1,
 * });
 * const first = await trainer.runStep();
 * await trainer.runStep();
 * assert.equal(trainer.step, 2);
 * assert.ok(first.loss > 0 && first.event === undefined);
 * trainer.dispose();
 * task.dispose();
 * ```
 */
export class Trainer {
  /** The task. */
  readonly task: TrainingTask;
  /** The model (adapters attached). */
  readonly model: DebertaModel;
  /** The adapters in module order. */
  readonly adapters: readonly Adapter[];
  /** The optimizer. */
  readonly optimizer: GrowingAdamW;
  /** The method's controller. */
  readonly controller: Controller;
  /** The sampler (position = optimizer steps done). */
  readonly sampler: Sampler;
  /** Total optimizer steps T. */
  readonly totalSteps: number;
  /** Run seed. */
  readonly seed: number;
  readonly #hp: LoopHyperParams;
  readonly #microBatch: number | undefined;
  readonly #source: GradientSource | undefined;
  #step = 0;

  /**
   * Wires the pieces together and registers every initial parameter block (birth step 0).
   * `new Trainer({ task, ...await adaptModel(model, config) })` takes the optimizer that
   * `adaptModel` built; without one it builds its own from `hyper`.
   *
   * @param parts Task, model, adapters, controller, hyper-parameters, T and seed; optionally the
   *   optimizer (as `adaptModel` builds it), `microBatch` (examples per micro-batch: gradients of
   *   one optimizer step are accumulated over micro-batches, see `train/gradients.ts`) and
   *   `gradients` (a data-parallel worker pool that computes the step's gradients; not owned, the
   *   caller disposes it).
   */
  constructor(parts: {
    readonly task: TrainingTask;
    readonly model: DebertaModel;
    readonly adapters: readonly Adapter[];
    readonly controller: Controller;
    readonly hyper: LoopHyperParams;
    readonly totalSteps: number;
    readonly seed: number;
    readonly optimizer?: GrowingAdamW;
    readonly microBatch?: number;
    readonly gradients?: GradientSource;
  }) {
    this.task = parts.task;
    this.model = parts.model;
    this.adapters = parts.adapters;
    this.controller = parts.controller;
    this.totalSteps = parts.totalSteps;
    this.seed = parts.seed;
    this.#hp = parts.hyper;
    const hp = parts.hyper;
    if (
      parts.microBatch !== undefined &&
      (!Number.isSafeInteger(parts.microBatch) || parts.microBatch < 1)
    ) {
      throw new RangeError(
        `Cannot create a trainer as microBatch must be a positive integer: current value is ${parts.microBatch}`,
      );
    }
    // Without an explicit micro-batch, workers split the batch into one slice each.
    this.#microBatch = parts.microBatch ??
      (parts.gradients === undefined
        ? undefined
        : Math.ceil(hp.batchSize / Math.max(1, parts.gradients.workers)));
    this.#source = parts.gradients;
    this.optimizer = parts.optimizer ?? new GrowingAdamW({
      beta1: hp.adamBeta1,
      beta2: hp.adamBeta2,
      epsilon: hp.adamEpsilon,
      weightDecay: hp.weightDecay,
      ...(hp.clipNorm > 0 ? { clipNorm: hp.clipNorm } : {}),
    });
    this.optimizer.syncBlocks(this.adapters.flatMap((a) => a.parameterBlocks()), 0);
    const head = this.model.trainableVariables();
    if (head.length > 0 && !this.optimizer.blockKeys.includes("head")) {
      this.optimizer.addBlock({ key: "head", variables: head }, 0);
    }
    this.sampler = createSampler({
      size: this.task.numTrainExamples,
      seed: this.seed,
      batchSize: hp.batchSize,
    });
  }

  /** Optimizer steps done so far. */
  get step(): number {
    return this.#step;
  }

  /** Batches per epoch. */
  get stepsPerEpoch(): number {
    return this.sampler.batchesPerEpoch;
  }

  /**
   * Learning rate of a block at optimizer update `globalStep` (1-based): base LR ×
   * `lrMultiplier(globalStep − 1)` (warm-up from the block's birth, linear decay to 0 at T), the
   * reference scheduler's convention (docs/METHOD.md §19): the multiplier is read before the
   * scheduler steps, so update 1 uses `lrMultiplier(0)`.
   *
   * @param info The block's birth step and the global step of the update.
   * @returns The learning rate.
   */
  learningRate(info: Pick<BlockStepInfo, "globalStep" | "birthStep">): number {
    return this.#hp.lr * lrMultiplier(Math.max(0, info.globalStep - 1), {
      birthStep: info.birthStep,
      warmupSteps: this.#hp.warmupSteps,
      totalSteps: this.totalSteps,
    });
  }

  /**
   * Runs one optimizer step between the controller's `beforeUpdate` and `afterStep` hooks. A
   * non-finite loss or gradient throws {@linkcode NonFiniteError} before any weight changes.
   *
   * @returns What happened.
   */
  async runStep(): Promise<StepReport> {
    const step = this.#step + 1;
    const batch = this.sampler.batchAt(this.#step);
    // Dropout seeds derive from the step (and micro-batch), so a resumed run draws the same masks.
    const slices = planSlices(batch.indices, {
      step,
      seed: this.seed,
      ...(this.#microBatch === undefined ? {} : { microBatch: this.#microBatch }),
    });
    const { loss: value, grads } = await this.#gradients(slices);
    try {
      // Σ g·0 is 0 when every gradient entry is finite and NaN otherwise (no overflow, unlike a
      // sum of squares); loss and check come back in one read.
      const check = tf.tidy(() => {
        const gs = Object.values(grads).map((g) => g.mul(0).sum());
        return tf.stack([value, gs.length === 0 ? tf.scalar(0) : tf.addN(gs)]);
      });
      const [lossValue, gradCheck] = Array.from(await check.data()) as [number, number];
      check.dispose();
      if (!Number.isFinite(lossValue)) throw new NonFiniteError(step, "loss", lossValue);
      if (gradCheck !== 0) throw new NonFiniteError(step, "gradient", gradCheck);
      // IncreLoRA scores the step's accumulated ∂L/∂ΔW once, with ΔW before the update.
      finishScoreGradients(this.adapters);
      // TriAdaptLoRA grows here (reference order); its new blocks have no gradient this step.
      const early = await this.controller.beforeUpdate?.(step, grads, this.optimizer);
      this.optimizer.step(grads, (info) => this.learningRate(info));
      this.#step = step;
      const late = await this.controller.afterStep(step, grads, this.optimizer);
      const event = early ?? late;
      return {
        step,
        loss: lossValue,
        lr: this.learningRate({ globalStep: step, birthStep: 0 }),
        event,
      };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  /** The step's gradients: in-process (one or more slices) or from the worker pool. */
  #gradients(slices: ReturnType<typeof planSlices>): Promise<StepGradients> {
    const varList = trainableList(this.adapters, this.model);
    const context = {
      task: this.task,
      model: this.model,
      adapters: this.adapters,
      orthRegWeight: this.#hp.orthRegWeight,
    };
    if (this.#source !== undefined) return this.#source.compute(context, slices, varList);
    // One slice scores IncreLoRA in its backward pass as before; more sum ∂L/∂ΔW first.
    setScoreGradientMode(this.adapters, slices.length > 1);
    return Promise.resolve(accumulateSlices(context, slices, varList));
  }

  /**
   * Evaluates the task with the current adapters.
   *
   * @returns The task's metrics.
   */
  evaluate(): Promise<TaskEvaluation> {
    const ranks = new Map<string, number>();
    const values = this.controller.ranks();
    this.adapters.forEach((a, i) => ranks.set(a.name, values[i] ?? a.rank));
    return this.task.evaluate(this.model, { ranks });
  }

  /**
   * Sets the step counter after a restore (the optimizer and controller are restored by the
   * checkpoint reader).
   *
   * @param step Optimizer steps done.
   */
  setStep(step: number): void {
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new RangeError(
        `Cannot restore trainer as step must be a non-negative integer: current value is ${step}`,
      );
    }
    this.#step = step;
  }

  /** Disposes the optimizer state, adapters and model (not the task). */
  dispose(): void {
    this.optimizer.dispose();
    for (const name of this.adapters.map((a) => a.name)) this.model.setAdapter(name, undefined);
    for (const a of this.adapters) a.dispose();
    this.controller.dispose();
    this.model.dispose();
  }
}
