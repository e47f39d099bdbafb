/**
 * Target-module selection (PEFT `target_modules` semantics) and adapter injection.
 *
 * @module
 */

import type { LinearDelta } from "./linear_adapter.ts";
import type { AdaptableModule } from "./deberta_v3.ts";

/**
 * The paper's six adapted families per layer (docs/METHOD.md §15): query/key/value projections,
 * the attention output dense, the intermediate dense and the output dense (M = 6 × layers).
 *
 * @example `output.dense` also matches `attention.output.dense` (PEFT suffix semantics)
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TARGET_MODULES, selectTargetModules } from "./inject.ts";
 *
 * assert.equal(DEFAULT_TARGET_MODULES.length, 6);
 * const picked = selectTargetModules(["l.0.attention.output.dense", "pooler.dense"]);
 * assert.deepEqual(picked, ["l.0.attention.output.dense"]);
 * ```
 */
export const DEFAULT_TARGET_MODULES: readonly string[] = Object.freeze([
  "query_proj",
  "key_proj",
  "value_proj",
  "attention.output.dense",
  "intermediate.dense",
  "output.dense",
]);

/** Module names that are never selected (the classifier's pooler is trained in full). */
const NEVER_TARGETED: readonly string[] = ["pooler.dense"];

function isNeverTargeted(name: string): boolean {
  return NEVER_TARGETED.some((n) => name === n || name.endsWith(`.${n}`));
}

/**
 * Selects module names as PEFT's `target_modules` does: with a list, a name matches when it
 * equals an entry or ends with `"." + entry`; with a `RegExp`, when the regex matches the whole
 * name. `pooler.dense` is never selected. Order follows `moduleNames`.
 *
 * @param moduleNames Candidate names, e.g. `model.adaptableModules().map((m) => m.name)`.
 * @param targets Suffixes, or a regex matched against the full name; default
 * {@link DEFAULT_TARGET_MODULES}.
 * @returns The selected names.
 *
 * @example Suffixes and regexes
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectTargetModules } from "./inject.ts";
 *
 * const names = [
 *   "deberta.encoder.layer.0.attention.self.query_proj",
 *   "deberta.encoder.layer.0.attention.output.dense",
 *   "deberta.encoder.layer.0.output.dense",
 *   "pooler.dense",
 * ];
 * assert.deepEqual(selectTargetModules(names, ["query_proj"]), [names[0]]);
 * assert.deepEqual(selectTargetModules(names, ["dense"]), [names[1], names[2]]);
 * assert.deepEqual(selectTargetModules(names, /.*layer\.0\.output\.dense/), [names[2]]);
 * assert.equal(selectTargetModules(names).length, 3);
 * ```
 */
export function selectTargetModules(
  moduleNames: readonly string[],
  targets: readonly string[] | RegExp = DEFAULT_TARGET_MODULES,
): string[] {
  if (targets instanceof RegExp) {
    const full = new RegExp(`^(?:${targets.source})$`, targets.flags.replace(/[gy]/g, ""));
    return moduleNames.filter((name) => full.test(name) && !isNeverTargeted(name));
  }
  for (const t of targets) {
    if (typeof t !== "string" || t.length === 0) {
      throw new TypeError(
        `Cannot select target modules as every target must be a non-empty string: current value is ${
          JSON.stringify(t)
        }`,
      );
    }
  }
  return moduleNames.filter((name) =>
    !isNeverTargeted(name) && targets.some((t) => name === t || name.endsWith(`.${t}`))
  );
}

/**
 * What {@link injectAdapters} needs from a model.
 *
 * @example A `DebertaModel` is one
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { parseDebertaConfig } from "./config.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import type { AdaptableModel } from "./inject.ts";
 * import { injectAdapters } from "./inject.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const adaptable: AdaptableModel = model;
 * const adapters = injectAdapters(adaptable, () => ({ delta: (x) => tf.zerosLike(x) }));
 * assert.equal(adapters.size, 6); // the six default families of the one layer
 * model.dispose();
 * ```
 */
export interface AdaptableModel {
  /** Every adaptable linear. */
  adaptableModules(): AdaptableModule[];
  /** Attaches or removes one adapter. */
  setAdapter(name: string, delta: LinearDelta | undefined): void;
}

/**
 * Creates one adapter per selected module with `create` and attaches it to the model.
 *
 * @param model The model (e.g. a `DebertaModel`).
 * @param create Builds the adapter of one module (its name and widths are given).
 * @param targets Target modules, as in {@link selectTargetModules}.
 * @returns The attached adapters by module name, in model order.
 * @throws {RangeError} When `targets` match no adaptable module (as PEFT refuses it), before
 *   anything is created or attached.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { injectAdapters } from "./inject.ts";
 * import type { LinearDelta } from "./linear_adapter.ts";
 *
 * const attached = new Map<string, LinearDelta | undefined>();
 * const model = {
 *   adaptableModules: () => [
 *     { name: "l.0.attention.self.query_proj", inFeatures: 4, outFeatures: 4 },
 *     { name: "l.0.attention.output.dense", inFeatures: 4, outFeatures: 4 },
 *   ],
 *   setAdapter: (name: string, d: LinearDelta | undefined) => void attached.set(name, d),
 * };
 * const zero: LinearDelta = { delta: (x) => tf.zerosLike(x) };
 * const adapters = injectAdapters(model, () => zero, ["query_proj"]);
 * assert.deepEqual([...adapters.keys()], ["l.0.attention.self.query_proj"]);
 * assert.equal(attached.size, 1);
 * assert.throws(() => injectAdapters(model, () => zero, ["q_proj"]), RangeError);
 * ```
 */
export function injectAdapters<T extends LinearDelta>(
  model: AdaptableModel,
  create: (module: AdaptableModule) => T,
  targets: readonly string[] | RegExp = DEFAULT_TARGET_MODULES,
): Map<string, T> {
  const modules = model.adaptableModules();
  const selected = new Set(selectTargetModules(modules.map((m) => m.name), targets));
  if (selected.size === 0) {
    // PEFT raises here too: a typo (e.g. LLaMA's "q_proj") must not silently train the head only.
    throw new RangeError(
      `Cannot inject adapters as target modules must match at least one adaptable module (${
        modules.slice(0, 3).map((m) => m.name).join(", ")
      }${modules.length > 3 ? ", …" : ""}): current value is ${
        targets instanceof RegExp ? String(targets) : JSON.stringify(targets)
      }`,
    );
  }
  const out = new Map<string, T>();
  for (const m of modules) {
    if (!selected.has(m.name)) continue;
    const adapter = create(m);
    model.setAdapter(m.name, adapter);
    out.set(m.name, adapter);
  }
  return out;
}
