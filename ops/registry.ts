/**
 * A PEFT-shaped registry: every method is `defineAdapter({ method, create })`, and the training
 * shell builds any of them with `createAdapter(method, options)`.
 *
 * @module
 */
import type { Adapter, AdapterMethod } from "./adapter.ts";
import { AdaLoraAdapter, type AdaLoraOptions } from "./adalora.ts";
import { IncreLoraAdapter, type IncreLoraOptions } from "./increlora.ts";
import { LoraAdapter, type LoraOptions } from "./lora.ts";
import { TriAdaptLoraAdapter, type TriAdaptLoraOptions } from "./triadapt_lora.ts";

/**
 * Options per built-in method.
 *
 * @example The options type of one method
 * ```ts
 * import type { AdapterOptionsMap } from "./registry.ts";
 * import { createAdapter } from "./registry.ts";
 * import assert from "node:assert/strict";
 *
 * const options: AdapterOptionsMap["lora"] = { name: "ex.aom", inFeatures: 4, outFeatures: 4, seed: 0, rank: 2 };
 * const ad = createAdapter("lora", options);
 * assert.equal(ad.rank, 2);
 * ad.dispose();
 * ```
 */
export interface AdapterOptionsMap {
  /** TriAdaptLoRA. */
  triadaptlora: TriAdaptLoraOptions;
  /** LoRA / rsLoRA. */
  lora: LoraOptions;
  /** AdaLoRA. */
  adalora: AdaLoraOptions;
  /** IncreLoRA. */
  increlora: IncreLoraOptions;
}

/**
 * Adapter class per built-in method.
 *
 * @example `createAdapter` returns the method's own class
 * ```ts
 * import type { AdapterTypeMap } from "./registry.ts";
 * import { createAdapter } from "./registry.ts";
 * import assert from "node:assert/strict";
 *
 * const ad: AdapterTypeMap["increlora"] = createAdapter("increlora", { name: "ex.atm", inFeatures: 4, outFeatures: 4, seed: 0 });
 * ad.grow(1); // IncreLoRA-specific method, typed through the map
 * assert.equal(ad.rank, 2);
 * ad.dispose();
 * ```
 */
export interface AdapterTypeMap {
  /** TriAdaptLoRA. */
  triadaptlora: TriAdaptLoraAdapter;
  /** LoRA / rsLoRA. */
  lora: LoraAdapter;
  /** AdaLoRA. */
  adalora: AdaLoraAdapter;
  /** IncreLoRA. */
  increlora: IncreLoraAdapter;
}

/**
 * A method definition: a name and a factory.
 *
 * @example The built-in LoRA definition
 * ```ts
 * import type { AdapterDefinition } from "./registry.ts";
 * import { ADAPTERS } from "./registry.ts";
 * import { LoraAdapter, type LoraOptions } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const def: AdapterDefinition<LoraOptions, LoraAdapter> = ADAPTERS.lora;
 * const ad = def.create({ name: "ex.def", inFeatures: 4, outFeatures: 4, seed: 0 });
 * assert.equal(def.method, "lora");
 * assert.ok(ad instanceof LoraAdapter);
 * ad.dispose();
 * ```
 */
export interface AdapterDefinition<O, A extends Adapter> {
  /** Method name. */
  readonly method: AdapterMethod;
  /**
   * Builds an adapter.
   *
   * @param options Method options.
   * @returns The adapter.
   */
  create(options: O): A;
}

/**
 * Defines an adapter method (returns the frozen definition).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineAdapter } from "./registry.ts";
 * import { LoraAdapter, type LoraOptions } from "./lora.ts";
 *
 * const def = defineAdapter({ method: "lora", create: (o: LoraOptions) => new LoraAdapter(o) });
 * assert.equal(def.method, "lora");
 * ```
 *
 * @param definition Method name and factory.
 * @returns The same definition, frozen.
 */
export function defineAdapter<O, A extends Adapter>(
  definition: AdapterDefinition<O, A>,
): AdapterDefinition<O, A> {
  return Object.freeze({ ...definition });
}

/**
 * The built-in methods.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ADAPTERS } from "./registry.ts";
 *
 * assert.deepEqual(Object.keys(ADAPTERS), ["triadaptlora", "lora", "adalora", "increlora"]);
 * ```
 */
export const ADAPTERS: {
  readonly [M in AdapterMethod]: AdapterDefinition<AdapterOptionsMap[M], AdapterTypeMap[M]>;
} = Object.freeze({
  triadaptlora: defineAdapter({
    method: "triadaptlora",
    create: (o: TriAdaptLoraOptions) => new TriAdaptLoraAdapter(o),
  }),
  lora: defineAdapter({ method: "lora", create: (o: LoraOptions) => new LoraAdapter(o) }),
  adalora: defineAdapter({
    method: "adalora",
    create: (o: AdaLoraOptions) => new AdaLoraAdapter(o),
  }),
  increlora: defineAdapter({
    method: "increlora",
    create: (o: IncreLoraOptions) => new IncreLoraAdapter(o),
  }),
});

/**
 * Builds an adapter of any built-in method.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAdapter } from "./registry.ts";
 *
 * const ad = createAdapter("triadaptlora", { name: "ex.reg", inFeatures: 8, outFeatures: 8, seed: 0 });
 * assert.equal(ad.rank, 1);
 * ad.dispose();
 * ```
 *
 * @param method Method name.
 * @param options Options of that method (`name`, `inFeatures`, `outFeatures`, `seed`, …).
 * @returns The adapter.
 */
export function createAdapter<M extends AdapterMethod>(
  method: M,
  options: AdapterOptionsMap[M],
): AdapterTypeMap[M] {
  const def = ADAPTERS[method] as
    | AdapterDefinition<AdapterOptionsMap[M], AdapterTypeMap[M]>
    | undefined;
  if (def === undefined) {
    throw new TypeError(
      `Cannot create adapter as method must be one of ${
        Object.keys(ADAPTERS).join(", ")
      }: current value is ${method}`,
    );
  }
  return def.create(options);
}
