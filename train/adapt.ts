/**
 * The front door for library users: {@linkcode adaptModel} turns a loaded DeBERTa model into a
 * trainable adaptive model in one call (in the spirit of PEFT's `get_peft_model(model, config)`):
 * method and budget in; adapters injected, the method's controller and the growing AdamW out,
 * ready for a {@linkcode Trainer} or a hand-written loop. `runTraining` (and so the CLI) wires
 * its runs through the same function.
 *
 * @module
 */

import { adaloraBudgetConfig } from "../core/adalora_budget.ts";
import {
  parseAdaLoraConfig,
  parseIncreLoraConfig,
  parseTriAdaptConfig,
  type TriAdaptConfig,
} from "../core/config.ts";
import type { DebertaModel } from "../model/deberta_v3.ts";
import { injectAdapters } from "../model/inject.ts";
import type { AdaLoraAdapter } from "../ops/adalora.ts";
import type { Adapter } from "../ops/adapter.ts";
import { ensureDefaultBackend } from "../ops/_ready.ts";
import { GrowingAdamW } from "../ops/growing_adamw.ts";
import type { IncreLoraAdapter } from "../ops/increlora.ts";
import { createAdapter } from "../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../ops/triadapt_lora.ts";
import type { Controller } from "./controllers/controller.ts";
import { createAdaLoraController } from "./controllers/adalora.ts";
import { createIncreLoraController } from "./controllers/increlora.ts";
import { createLoraController } from "./controllers/lora.ts";
import { createTriAdaptController } from "./controllers/triadapt.ts";
import {
  defaultHyperParams,
  HYPERPARAM_KEYS,
  type HyperParams,
  type TrainMethod,
} from "./hyperparams.ts";

/**
 * What {@linkcode adaptModel} needs: the method, the run length T (every schedule is checked
 * against it) and any hyper-parameter to override (the rest take the schema defaults of
 * `defaultHyperParams()`: the paper's RTE row, `alpha` 32, `refRank` 8, linear threshold, …).
 *
 * @example A TriAdaptLoRA budget of `r_ref = 4` per matrix, grown by 2 every 10 steps
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdaptConfig } from "./adapt.ts";
 *
 * const config: AdaptConfig = {
 *   method: "triadapt", totalSteps: 100, refRank: 4, initRank: 1, deltaRank: 2,
 *   initWarmup: 20, interval: 10, threshold: "linear", alpha: 32,
 *   targets: ["query_proj", "value_proj"],
 * };
 * assert.equal(config.method, "triadapt");
 * ```
 */
export interface AdaptConfig extends Partial<HyperParams> {
  /** `triadapt` (TriAdaptLoRA), `lora`, `adalora` or `increlora`. */
  readonly method: TrainMethod;
  /** Total optimizer steps T of the run (schedules, budget and learning-rate decay use it). */
  readonly totalSteps: number;
  /** Seed of the adapter initialisation (and of the Trainer's sampler); default 0. */
  readonly seed?: number;
  /**
   * Modules to adapt: name suffixes (default `DEFAULT_TARGET_MODULES`: the six linears of every
   * layer) or a regular expression over the full module names.
   */
  readonly targets?: readonly string[] | RegExp;
}

/**
 * A model made trainable by {@linkcode adaptModel}. Its fields are exactly what a
 * {@linkcode Trainer} takes besides the task, so `new Trainer({ task, ...adapted })` works;
 * `optimizer` and `controller` also drive a hand-written loop (`optimizer.step(grads, lr)` then
 * `await controller.afterStep(step, grads, optimizer)`).
 *
 * @example A LoRA model's parts
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdaptedModel } from "./adapt.ts";
 * import { adaptModel } from "./adapt.ts";
 * import { createDebertaModel, parseDebertaConfig, randomDebertaWeights } from "../model/mod.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend();
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const adapted: AdaptedModel = await adaptModel(model, { method: "lora", totalSteps: 10, refRank: 2 });
 * assert.equal(adapted.adapters.length, 6);
 * assert.equal(adapted.controller.targetBudget, 12);
 * assert.equal(adapted.hyper.orthRegWeight, 0); // LoRA has no orthogonality term
 * adapted.dispose();
 * model.dispose();
 * ```
 */
export interface AdaptedModel {
  /** The model, adapters attached. */
  readonly model: DebertaModel;
  /** The adapters, module order. */
  readonly adapters: readonly Adapter[];
  /** The method's allocation logic (grows, masks, or does nothing for LoRA). */
  readonly controller: Controller;
  /** The growing AdamW, every adapter block and the head already registered (birth step 0). */
  readonly optimizer: GrowingAdamW;
  /** The resolved hyper-parameters the parts were built with (LoRA: `orthRegWeight` 0). */
  readonly hyper: HyperParams;
  /** The method. */
  readonly method: TrainMethod;
  /** T. */
  readonly totalSteps: number;
  /** The seed. */
  readonly seed: number;
  /**
   * Detaches and disposes the adapters, the controller and the optimizer state; the model itself
   * stays (base weights and head), owned by the caller. A `Trainer` built from these parts
   * disposes all of them and the model instead.
   */
  dispose(): void;
}

const ADAPT_KEYS: ReadonlySet<string> = new Set<string>([
  ...HYPERPARAM_KEYS,
  "method",
  "totalSteps",
  "seed",
  "targets",
]);

const METHODS: readonly TrainMethod[] = ["triadapt", "lora", "adalora", "increlora"];

/**
 * Validates every schedule of the method against T before anything is built (AdaLoRA's
 * `tinit + tfinal < T`, TriAdaptLoRA/IncreLoRA `initWarmup < T`, …).
 *
 * @param method The method.
 * @param hyper Hyper-parameters.
 * @param totalSteps T.
 * @returns The parsed TriAdaptLoRA config when the method is `triadapt`.
 * @throws {RangeError} On an inconsistent schedule (one-line message).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { validateSchedules } from "./adapt.ts";
 *
 * const hyper = defaultHyperParams();
 * assert.throws(() => validateSchedules("triadapt", hyper, 50), /initWarmup|t0|totalSteps/);
 * assert.equal(validateSchedules("triadapt", hyper, 3900)?.totalSteps, 3900);
 * ```
 */
export function validateSchedules(
  method: TrainMethod,
  hyper: HyperParams,
  totalSteps: number,
): TriAdaptConfig | undefined {
  switch (method) {
    case "triadapt":
      return parseTriAdaptConfig({
        initRank: hyper.initRank,
        refRank: hyper.refRank,
        deltaRank: hyper.deltaRank,
        initWarmup: hyper.initWarmup,
        interval: hyper.interval,
        totalSteps,
        threshold: hyper.threshold,
        ...(hyper.threshold === "fixed" ? { topH: hyper.topH } : {}),
        rounding: hyper.rounding,
        allowOvershoot: hyper.allowOvershoot,
        normalisation: hyper.normalisation,
        loraAlpha: hyper.alpha,
        dropout: hyper.dropout,
        orthRegWeight: hyper.orthRegWeight,
        growthInit: hyper.growthInit,
      });
    case "adalora":
      parseAdaLoraConfig(adaloraInput(hyper, totalSteps));
      return undefined;
    case "increlora":
      parseIncreLoraConfig(increloraInput(hyper, totalSteps));
      return undefined;
    case "lora":
      return undefined;
  }
}

function adaloraInput(hyper: HyperParams, totalSteps: number): Record<string, unknown> {
  return {
    initRank: hyper.adaloraInitRank,
    targetRank: hyper.refRank,
    tinit: hyper.tinit,
    tfinal: hyper.tfinal,
    deltaT: hyper.deltaT,
    totalSteps,
    beta1: hyper.beta1,
    beta2: hyper.beta2,
    loraAlpha: hyper.alpha,
    dropout: hyper.dropout,
    orthRegWeight: hyper.orthRegWeight,
  };
}

function increloraInput(hyper: HyperParams, totalSteps: number): Record<string, unknown> {
  return {
    initRank: hyper.initRank,
    refRank: hyper.refRank,
    deltaRank: hyper.deltaRank,
    topH: hyper.topH,
    initWarmup: hyper.initWarmup,
    interval: hyper.interval,
    totalSteps,
    beta1: hyper.beta1,
    beta2: hyper.beta2,
    loraAlpha: hyper.alpha,
    dropout: hyper.dropout,
    orthRegWeight: hyper.orthRegWeight,
  };
}

function buildAdapters(
  model: DebertaModel,
  method: TrainMethod,
  hyper: HyperParams,
  seed: number,
  targets: readonly string[] | RegExp | undefined,
): Adapter[] {
  let index = 0;
  const create = (m: { name: string; inFeatures: number; outFeatures: number }): Adapter => {
    // Adapter init seeds: run seed and module index (the adapters also mix in their name).
    const s = seed * 4096 + index++;
    const common = { name: m.name, inFeatures: m.inFeatures, outFeatures: m.outFeatures, seed: s };
    switch (method) {
      case "triadapt":
        return createAdapter("triadaptlora", {
          ...common,
          alpha: hyper.alpha,
          initialRank: hyper.initRank,
          dropout: hyper.dropout,
          growthInit: hyper.growthInit,
        });
      case "lora":
        return createAdapter("lora", {
          ...common,
          rank: hyper.refRank,
          alpha: hyper.alpha,
          dropout: hyper.dropout,
        });
      case "adalora":
        return createAdapter("adalora", {
          ...common,
          initialRank: hyper.adaloraInitRank,
          alpha: hyper.alpha,
          dropout: hyper.dropout,
          beta1: hyper.beta1,
          beta2: hyper.beta2,
        });
      case "increlora":
        return createAdapter("increlora", {
          ...common,
          initialRank: hyper.initRank,
          alpha: hyper.alpha,
          dropout: hyper.dropout,
          beta1: hyper.beta1,
          beta2: hyper.beta2,
        });
    }
  };
  const adapters = targets === undefined
    ? injectAdapters(model, create)
    : injectAdapters(model, create, targets);
  return [...adapters.values()];
}

async function buildController(
  method: TrainMethod,
  adapters: readonly Adapter[],
  hyper: HyperParams,
  totalSteps: number,
  triadapt: TriAdaptConfig | undefined,
): Promise<Controller> {
  switch (method) {
    case "triadapt":
      return await createTriAdaptController(adapters as TriAdaptLoraAdapter[], {
        config: triadapt as TriAdaptConfig,
        initRank: hyper.initRank,
        refRank: hyper.refRank,
      });
    case "lora":
      return createLoraController(adapters);
    case "adalora":
      return createAdaLoraController(
        adapters as AdaLoraAdapter[],
        adaloraBudgetConfig(parseAdaLoraConfig(adaloraInput(hyper, totalSteps)), adapters.length),
      );
    case "increlora":
      return createIncreLoraController(adapters as IncreLoraAdapter[], {
        initWarmup: hyper.initWarmup,
        interval: hyper.interval,
        totalSteps,
        topH: hyper.topH,
        deltaRank: hyper.deltaRank,
        initRank: hyper.initRank,
        refRank: hyper.refRank,
      });
  }
}

function resolveConfig(config: AdaptConfig): { hyper: HyperParams; seed: number } {
  if (typeof config !== "object" || config === null) {
    throw new TypeError(
      `Cannot adapt model as config must be an object: current value is ${String(config)}`,
    );
  }
  for (const key of Object.keys(config)) {
    if (!ADAPT_KEYS.has(key)) {
      throw new TypeError(
        `Cannot adapt model as every config field must be known (method, totalSteps, seed, targets or a HyperParams field): current field is ${key}`,
      );
    }
  }
  if (!METHODS.includes(config.method)) {
    throw new RangeError(
      `Cannot adapt model as method must be one of ${METHODS.join(", ")}: current value is ${
        JSON.stringify(config.method)
      }`,
    );
  }
  if (!Number.isSafeInteger(config.totalSteps) || config.totalSteps < 1) {
    throw new RangeError(
      `Cannot adapt model as totalSteps must be an integer >= 1: current value is ${config.totalSteps}`,
    );
  }
  const seed = config.seed ?? 0;
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`Cannot adapt model as seed must be an integer: current value is ${seed}`);
  }
  const defaults = defaultHyperParams();
  const merged: Record<string, unknown> = {};
  for (const key of HYPERPARAM_KEYS) {
    const value = config[key];
    if (value !== undefined && typeof value !== typeof defaults[key]) {
      throw new TypeError(
        `Cannot adapt model as ${key} must be a ${typeof defaults[key]}: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new RangeError(
        `Cannot adapt model as ${key} must be finite: current value is ${value}`,
      );
    }
    merged[key] = value ?? defaults[key];
  }
  const hyper = merged as unknown as HyperParams;
  if (hyper.initRank > hyper.refRank && config.method !== "lora") {
    throw new RangeError(
      `Cannot adapt model as initRank must be <= refRank: current values are ${hyper.initRank} > ${hyper.refRank}`,
    );
  }
  if (config.method === "adalora" && hyper.adaloraInitRank < hyper.refRank) {
    throw new RangeError(
      `Cannot adapt model as adaloraInitRank must be >= refRank: current values are ${hyper.adaloraInitRank} < ${hyper.refRank}`,
    );
  }
  // LoRA has no orthogonality term (its factors are not meant to be orthogonal).
  const resolved = config.method === "lora" ? { ...hyper, orthRegWeight: 0 } : hyper;
  return { hyper: Object.freeze(resolved), seed };
}

/**
 * Turns a DeBERTa model into a trainable adaptive model, as PEFT's `get_peft_model(model,
 * config)` does: checks the method's schedules against `totalSteps`, injects one adapter per
 * target module (TriAdaptLoRA, LoRA, AdaLoRA or IncreLoRA, with the config's ranks, `alpha` and
 * dropout), builds the method's controller (growth, masking, or nothing for LoRA) and a growing
 * AdamW with every adapter block and the head registered. Initialises the default backend
 * (`wasm`) first when none is active. `runTraining` and `deno task train` build their runs with
 * this same function.
 *
 * After a growth the controller registers the new blocks with the optimizer; an adapter grown by
 * hand needs `optimizer.syncBlocks(adapters.flatMap((a) => a.parameterBlocks()))` (the optimizer
 * throws, naming that call, when it meets a gradient of an unregistered block).
 *
 * @param model A model from `loadModel` or `createDebertaModel` (no adapters attached yet).
 * @param config Method, T and any hyper-parameter override (see {@linkcode AdaptConfig}).
 * @returns The adapted parts (see {@linkcode AdaptedModel}).
 * @throws {TypeError} On an unknown config field or a field of the wrong type.
 * @throws {RangeError} On an unknown method or an inconsistent schedule, before any tensor is made.
 *
 * @example Adapt a small random model with TriAdaptLoRA and train it two steps
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { adaptModel } from "./adapt.ts";
 * import { createDebertaModel, parseDebertaConfig, randomDebertaWeights } from "../model/mod.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend();
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const adapted = await adaptModel(model, {
 *   method: "triadapt", totalSteps: 2, refRank: 2, initRank: 1, deltaRank: 1, initWarmup: 1,
 *   interval: 1,
 * });
 * const { optimizer, controller } = adapted;
 * const vars = [...adapted.adapters.flatMap((a) => a.trainableVariables()), ...model.trainableVariables()];
 * for (let step = 1; step <= 2; step++) {
 *   const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
 *     const out = model.forward({ inputIds: [[1, 5, 6, 2]] }, { training: true, seed: step });
 *     tf.dispose(out.lastHiddenState);
 *     return tf.losses.softmaxCrossEntropy(tf.tensor2d([[0, 1]]), out.logits) as tf.Scalar;
 *   }), vars);
 *   optimizer.step(grads, 1e-3);
 *   await controller.afterStep(step, grads, optimizer); // TriAdaptLoRA grows here
 *   tf.dispose([value, ...Object.values(grads)]);
 * }
 * assert.equal(controller.events, 1);
 * assert.ok(adapted.adapters.some((a) => a.rank > 1));
 * adapted.dispose();
 * model.dispose();
 * ```
 */
export async function adaptModel(model: DebertaModel, config: AdaptConfig): Promise<AdaptedModel> {
  const { hyper, seed } = resolveConfig(config);
  const { method, totalSteps } = config;
  const triadapt = validateSchedules(method, hyper, totalSteps);
  await ensureDefaultBackend();
  const adapters: Adapter[] = [];
  let controller: Controller | undefined;
  let optimizer: GrowingAdamW | undefined;
  try {
    adapters.push(...buildAdapters(model, method, hyper, seed, config.targets));
    controller = await buildController(method, adapters, hyper, totalSteps, triadapt);
    optimizer = new GrowingAdamW({
      beta1: hyper.adamBeta1,
      beta2: hyper.adamBeta2,
      epsilon: hyper.adamEpsilon,
      weightDecay: hyper.weightDecay,
      ...(hyper.clipNorm > 0 ? { clipNorm: hyper.clipNorm } : {}),
    });
    optimizer.syncBlocks(adapters.flatMap((a) => a.parameterBlocks()), 0);
    const head = model.trainableVariables();
    if (head.length > 0) optimizer.addBlock({ key: "head", variables: head }, 0);
  } catch (error) {
    optimizer?.dispose();
    controller?.dispose();
    for (const a of adapters) model.setAdapter(a.name, undefined);
    for (const a of adapters) a.dispose();
    throw error;
  }
  const parts = { controller, optimizer };
  return {
    model,
    adapters,
    controller,
    optimizer,
    hyper,
    method,
    totalSteps,
    seed,
    dispose(): void {
      parts.optimizer.dispose();
      parts.controller.dispose();
      for (const a of adapters) model.setAdapter(a.name, undefined);
      for (const a of adapters) a.dispose();
    },
  };
}
