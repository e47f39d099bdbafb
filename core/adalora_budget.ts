/**
 * AdaLoRA's cubic budget schedule (docs/METHOD.md §12).
 *
 * @module
 */

import { assertInteger } from "./_validate.ts";
import type { AdaLoraConfig } from "./config.ts";

/**
 * Budget schedule settings of {@linkcode adaloraBudget}.
 *
 * @example Built from a parsed AdaLoRA config (M = 72)
 * ```ts
 * import type { AdaLoraBudgetConfig } from "./adalora_budget.ts";
 * import { adaloraBudgetConfig } from "./adalora_budget.ts";
 * import { parseAdaLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const parsed = parseAdaLoraConfig({ tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 });
 * const config: AdaLoraBudgetConfig = adaloraBudgetConfig(parsed, 72);
 * assert.deepEqual(config, {
 *   initBudget: 864, targetBudget: 576, tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900,
 * });
 * ```
 */
export interface AdaLoraBudgetConfig {
  /** Initial budget (total rank, e.g. `12 · M`). */
  readonly initBudget: number;
  /** Target budget (`<= initBudget`, e.g. `8 · M`). */
  readonly targetBudget: number;
  /** Steps before budgeting starts. */
  readonly tinit: number;
  /** Steps of final fine-tuning at the target budget. */
  readonly tfinal: number;
  /** Mask interval during the budgeting phase. */
  readonly deltaT: number;
  /** `T` (`tinit + tfinal < totalSteps`). */
  readonly totalSteps: number;
}

/**
 * Budget and masking decision at one step.
 *
 * @example In the final phase the budget is the target and every step masks
 * ```ts
 * import type { AdaLoraBudget } from "./adalora_budget.ts";
 * import { adaloraBudget } from "./adalora_budget.ts";
 * import assert from "node:assert/strict";
 *
 * const config = { initBudget: 864, targetBudget: 576, tinit: 600, tfinal: 1800, deltaT: 10, totalSteps: 3900 };
 * const decision: AdaLoraBudget = adaloraBudget(3000, config);
 * assert.deepEqual(decision, { budget: 576, mask: true });
 * ```
 */
export interface AdaLoraBudget {
  /** Total rank kept. */
  readonly budget: number;
  /** Whether the lowest triplets are masked at this step. */
  readonly mask: boolean;
}

/**
 * AdaLoRA's budget at `step` (the PEFT `budget_schedule`, Optax's polynomial schedule with
 * power 3):
 *
 * - `step <= tinit`: `budget = initBudget`, `mask = false`;
 * - `step > T − tfinal`: `budget = targetBudget`, `mask = true` (every step);
 * - otherwise `mul = 1 − (step − tinit) / (T − tfinal − tinit)`,
 *   `budget = floor((initBudget − targetBudget) · mul³ + targetBudget)`,
 *   `mask = step % deltaT === 0`.
 *
 * @param step Optimizer step (non-negative integer).
 * @param config Budgets and phase lengths.
 * @returns `{ budget, mask }`.
 * @throws {RangeError} On invalid integers or `tinit + tfinal >= totalSteps`.
 *
 * @example docs/METHOD.md §12 check values (M = 72, 864 → 576, tinit 600, tfinal 1800, T 3900)
 * ```ts
 * import { adaloraBudget } from "./adalora_budget.ts";
 * import assert from "node:assert/strict";
 *
 * const config = { initBudget: 864, targetBudget: 576, tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 };
 * assert.deepEqual(adaloraBudget(600, config), { budget: 864, mask: false });
 * assert.deepEqual(adaloraBudget(601, config), { budget: 863, mask: true });
 * assert.equal(adaloraBudget(700, config).budget, 810);
 * assert.equal(adaloraBudget(1000, config).budget, 689);
 * assert.equal(adaloraBudget(1500, config).budget, 594);
 * assert.equal(adaloraBudget(2100, config).budget, 576);
 * ```
 */
export function adaloraBudget(step: number, config: AdaLoraBudgetConfig): AdaLoraBudget {
  const action = "compute AdaLoRA budget";
  assertInteger(action, "step", step, 0);
  assertInteger(action, "targetBudget", config.targetBudget, 0);
  assertInteger(action, "initBudget", config.initBudget, config.targetBudget);
  assertInteger(action, "tinit", config.tinit, 0);
  assertInteger(action, "tfinal", config.tfinal, 0);
  assertInteger(action, "deltaT", config.deltaT, 1);
  assertInteger(action, "totalSteps", config.totalSteps, 1);
  const { initBudget, targetBudget, tinit, tfinal, totalSteps } = config;
  if (tinit + tfinal >= totalSteps) {
    throw new RangeError(
      `Cannot ${action} as tinit + tfinal must be < totalSteps (${totalSteps}): current values are ${tinit} + ${tfinal}`,
    );
  }
  if (step <= tinit) return Object.freeze({ budget: initBudget, mask: false });
  if (step > totalSteps - tfinal) return Object.freeze({ budget: targetBudget, mask: true });
  const mul = 1 - (step - tinit) / (totalSteps - tfinal - tinit);
  const budget = Math.floor((initBudget - targetBudget) * mul ** 3 + targetBudget);
  return Object.freeze({ budget, mask: step % config.deltaT === 0 });
}

/**
 * Budget settings for `matrices` adapted modules: `initBudget = initRank · M`,
 * `targetBudget = targetRank · M`.
 *
 * @param config A parsed AdaLoRA config.
 * @param matrices Number of adapted matrices `M`.
 * @returns The {@linkcode AdaLoraBudgetConfig}.
 *
 * @example Usage
 * ```ts
 * import { adaloraBudgetConfig } from "./adalora_budget.ts";
 * import { parseAdaLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = parseAdaLoraConfig({ tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 });
 * assert.equal(adaloraBudgetConfig(config, 72).initBudget, 864);
 * ```
 */
export function adaloraBudgetConfig(config: AdaLoraConfig, matrices: number): AdaLoraBudgetConfig {
  assertInteger("build AdaLoRA budget config", "matrices", matrices, 1);
  return Object.freeze({
    initBudget: config.initRank * matrices,
    targetBudget: config.targetRank * matrices,
    tinit: config.tinit,
    tfinal: config.tfinal,
    deltaT: config.deltaT,
    totalSteps: config.totalSteps,
  });
}

/**
 * What the AdaLoRA controller does after optimizer step `step` (PEFT `update_and_allocate`):
 * - `"none"`: nothing (`step ≤ tinit`, or a budgeting step off the `deltaT` grid);
 * - `"mask"`: mask the lowest triplets to `adaloraBudget(step).budget`;
 * - `"freeze"`: at `step = T − tfinal`, mask to the target budget (forced, whatever `deltaT`) and
 *   keep the resulting pattern as the final one;
 * - `"reapply"`: after `T − tfinal`, re-apply the frozen pattern (scores no longer matter).
 *
 * @param step Global optimizer step (integer ≥ 0).
 * @param config Budget settings.
 * @returns The action.
 *
 * @example Check values around the phase boundaries (tinit 600, tfinal 1800, T 3900, ΔT 10)
 * ```ts
 * import assert from "node:assert/strict";
 * import { adaloraMaskAction } from "./adalora_budget.ts";
 *
 * const config = {
 *   initBudget: 864, targetBudget: 576, tinit: 600, tfinal: 1800, deltaT: 10, totalSteps: 3900,
 * };
 * assert.equal(adaloraMaskAction(600, config), "none");
 * assert.equal(adaloraMaskAction(601, config), "none");
 * assert.equal(adaloraMaskAction(610, config), "mask");
 * assert.equal(adaloraMaskAction(2095, config), "none");
 * assert.equal(adaloraMaskAction(2100, config), "freeze");
 * assert.equal(adaloraMaskAction(2101, config), "reapply");
 * ```
 */
export function adaloraMaskAction(
  step: number,
  config: AdaLoraBudgetConfig,
): "none" | "mask" | "freeze" | "reapply" {
  const { mask } = adaloraBudget(step, config);
  const freezeStep = config.totalSteps - config.tfinal;
  if (step === freezeStep) return "freeze";
  if (step > freezeStep) return "reapply";
  return mask ? "mask" : "none";
}
