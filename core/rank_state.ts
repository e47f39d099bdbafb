/**
 * Rank state: the per-module ranks of an adaptive-rank run and the remaining rank budget.
 *
 * @module
 */

import { assertInteger, show } from "./_validate.ts";
import { grantAmounts } from "./threshold.ts";

/**
 * Deep-readonly plain data describing the ranks of every adapted module.
 *
 * Invariants (checked by {@linkcode rankStateFromJson}): `ranks.length === modules.length`,
 * `total === sum(ranks)` and `total + remaining === budget0`. `remaining` is never negative
 * unless a grant was applied with `allowOvershoot` (the reference code's behaviour).
 *
 * @example The invariants hold after a grant
 * ```ts
 * import type { RankState } from "./rank_state.ts";
 * import { createRankState, growRanks } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state: RankState = growRanks(createRankState({ modules: ["q", "v"], initRank: 1, refRank: 8 }), [{ index: 0, amount: 4 }]);
 * assert.deepEqual(state.ranks, [5, 1]);
 * assert.equal(state.total, 6);
 * assert.equal(state.total + state.remaining, state.budget0);
 * ```
 */
export interface RankState {
  /** Module names in a fixed order; every per-module array uses this order. */
  readonly modules: readonly string[];
  /** Current rank of each module. */
  readonly ranks: readonly number[];
  /** Sum of `ranks`. */
  readonly total: number;
  /** Total rank budget `R0 = refRank · M`. */
  readonly budget0: number;
  /** Remaining budget `R = budget0 − total`. */
  readonly remaining: number;
}

/**
 * Options of {@linkcode createRankState}.
 *
 * @example Two modules, rank 1, reference rank 8
 * ```ts
 * import type { RankStateOptions } from "./rank_state.ts";
 * import { createRankState } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const options: RankStateOptions = { modules: ["q", "v"], initRank: 1, refRank: 8 };
 * const state = createRankState(options);
 * assert.deepEqual([state.total, state.budget0, state.remaining], [2, 16, 14]);
 * ```
 */
export interface RankStateOptions {
  /** Distinct module names (at least one), in the order used by every per-module array. */
  readonly modules: readonly string[];
  /** Rank every module starts with (positive integer). */
  readonly initRank: number;
  /** Reference (average target) rank; `R0 = refRank · M` (integer `>= initRank`). */
  readonly refRank: number;
}

/**
 * One grant of rank to the module at `index`.
 *
 * @example Granting 3 units to the second module
 * ```ts
 * import type { RankGrant } from "./rank_state.ts";
 * import { createRankState, growRanks } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const grant: RankGrant = { index: 1, amount: 3 };
 * const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 2 });
 * assert.deepEqual(growRanks(state, [grant], { allowOvershoot: true }).ranks, [1, 4]);
 * ```
 */
export interface RankGrant {
  /** Index of the module in {@linkcode RankState.modules}. */
  readonly index: number;
  /** Rank units added (positive integer). */
  readonly amount: number;
}

/**
 * Options of {@linkcode growRanks}.
 *
 * @example Overshooting the budget needs `allowOvershoot`
 * ```ts
 * import type { GrowOptions } from "./rank_state.ts";
 * import { createRankState, growRanks } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 2 });
 * const options: GrowOptions = { allowOvershoot: true };
 * assert.equal(growRanks(state, [{ index: 0, amount: 4 }], options).remaining, -2);
 * assert.throws(() => growRanks(state, [{ index: 0, amount: 4 }]), RangeError);
 * ```
 */
export interface GrowOptions {
  /** Allow the grants to exceed the remaining budget (reference code). Default `false`. */
  readonly allowOvershoot?: boolean;
}

function freezeState(
  modules: readonly string[],
  ranks: readonly number[],
  budget0: number,
): RankState {
  const total = ranks.reduce((a, b) => a + b, 0);
  return Object.freeze({
    modules: Object.freeze([...modules]),
    ranks: Object.freeze([...ranks]),
    total,
    budget0,
    remaining: budget0 - total,
  });
}

function assertModules(action: string, modules: unknown): asserts modules is readonly string[] {
  if (!Array.isArray(modules) || modules.length === 0) {
    throw new TypeError(
      `Cannot ${action} as modules must be a non-empty array of strings: current value is ${
        show(modules)
      }`,
    );
  }
  const seen = new Set<string>();
  modules.forEach((m, i) => {
    if (typeof m !== "string") {
      throw new TypeError(
        `Cannot ${action} as modules[${i}] must be a string: current value is ${show(m)}`,
      );
    }
    if (seen.has(m)) {
      throw new RangeError(
        `Cannot ${action} as module names must be distinct: current value ${show(m)} repeats`,
      );
    }
    seen.add(m);
  });
}

/**
 * Creates the initial rank state: every module at `initRank`, `R0 = refRank · M`,
 * `R = R0 − initRank · M`.
 *
 * @param options The module names, the initial rank and the reference rank.
 * @returns A frozen {@linkcode RankState}.
 * @throws {TypeError} If `modules` is not a non-empty array of strings.
 * @throws {RangeError} If a rank is not a positive integer, `refRank < initRank`, or names repeat.
 *
 * @example Usage
 * ```ts
 * import { createRankState } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 8 });
 * assert.deepEqual(state.ranks, [1, 1]);
 * assert.equal(state.budget0, 16);
 * assert.equal(state.remaining, 14);
 * ```
 */
export function createRankState(options: RankStateOptions): RankState {
  const action = "create rank state";
  assertModules(action, options.modules);
  assertInteger(action, "initRank", options.initRank, 1);
  assertInteger(action, "refRank", options.refRank, 1);
  if (options.refRank < options.initRank) {
    throw new RangeError(
      `Cannot ${action} as refRank must be >= initRank: current values are ${options.refRank} < ${options.initRank}`,
    );
  }
  const m = options.modules.length;
  return freezeState(
    options.modules,
    new Array<number>(m).fill(options.initRank),
    options.refRank * m,
  );
}

/**
 * Returns a new state in which each granted module's rank grew by its amount. The input state is
 * left unchanged.
 *
 * @param state The current state.
 * @param grants Distinct module indices with positive integer amounts.
 * @param options `allowOvershoot` lets the grants exceed `state.remaining` (then `remaining` < 0).
 * @returns The new frozen state (`total + remaining === budget0` still holds).
 * @throws {RangeError} If an index is out of range or repeated, an amount is not a positive
 * integer, or the grants exceed the remaining budget without `allowOvershoot`.
 *
 * @example Usage
 * ```ts
 * import { createRankState, growRanks } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 8 });
 * const next = growRanks(state, [{ index: 1, amount: 4 }]);
 * assert.deepEqual(next.ranks, [1, 5]);
 * assert.equal(next.remaining, 10);
 * assert.deepEqual(state.ranks, [1, 1]);
 * ```
 */
export function growRanks(
  state: RankState,
  grants: readonly RankGrant[],
  options: GrowOptions = {},
): RankState {
  const action = "grow ranks";
  const ranks = [...state.ranks];
  const seen = new Set<number>();
  let spent = 0;
  grants.forEach((grant, i) => {
    assertInteger(action, `grants[${i}].index`, grant.index, 0);
    if (grant.index >= ranks.length) {
      throw new RangeError(
        `Cannot ${action} as grants[${i}].index must be < ${ranks.length}: current value is ${grant.index}`,
      );
    }
    if (seen.has(grant.index)) {
      throw new RangeError(
        `Cannot ${action} as grant indices must be distinct: current value ${grant.index} repeats`,
      );
    }
    seen.add(grant.index);
    assertInteger(action, `grants[${i}].amount`, grant.amount, 1);
    ranks[grant.index] = (ranks[grant.index] ?? 0) + grant.amount;
    spent += grant.amount;
  });
  if (spent > state.remaining && options.allowOvershoot !== true) {
    throw new RangeError(
      `Cannot ${action} as the grants must fit the remaining budget ${state.remaining}: current value is ${spent}`,
    );
  }
  return freezeState(state.modules, ranks, state.budget0);
}

/**
 * Grows the `selected` modules by `Δr` each and returns the new state (the issue's
 * `grow(state, selected, deltaR)`). Without `allowOvershoot`, when `k·Δr > R` the last selected
 * module (the lowest-scored one, as `selectTopK` orders them) receives only the
 * remainder `R − (k−1)·Δr`, so the total ends exactly at `R0`; see `grantAmounts`.
 *
 * @param state The current state.
 * @param selected Distinct module indices, best first (at most `⌈R/Δr⌉` of them unless
 * `allowOvershoot`).
 * @param deltaR Rank units per grown module (positive integer).
 * @param options `allowOvershoot` grants `Δr` to every selected module even past the budget.
 * @returns The new frozen state.
 * @throws {RangeError} If an index is out of range or repeated, `deltaR` is not a positive
 * integer, or more modules are selected than the budget allows without `allowOvershoot`.
 *
 * @example The last selected module receives the remainder
 * ```ts
 * import { createRankState, grow } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "k", "v"], initRank: 1, refRank: 3 }); // R = 6
 * assert.deepEqual(grow(state, [2, 0], 4).ranks, [3, 1, 5]);
 * assert.equal(grow(state, [2, 0], 4).remaining, 0);
 * assert.deepEqual(grow(state, [2, 0], 4, { allowOvershoot: true }).ranks, [5, 1, 5]);
 * ```
 */
export function grow(
  state: RankState,
  selected: readonly number[],
  deltaR: number,
  options: GrowOptions = {},
): RankState {
  const allowOvershoot = options.allowOvershoot === true;
  const amounts = grantAmounts(selected.length, state.remaining, {
    deltaRank: deltaR,
    allowOvershoot,
  });
  const grants = selected.map((index, i) => ({ index, amount: amounts[i] ?? deltaR }));
  return growRanks(state, grants, { allowOvershoot });
}

/**
 * Serialises a rank state to JSON text.
 *
 * @param state The state.
 * @returns JSON text with `modules`, `ranks`, `total`, `budget0` and `remaining`.
 *
 * @example Usage
 * ```ts
 * import { createRankState, rankStateFromJson, rankStateToJson } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q"], initRank: 2, refRank: 4 });
 * assert.deepEqual(rankStateFromJson(rankStateToJson(state)), state);
 * ```
 */
export function rankStateToJson(state: RankState): string {
  return JSON.stringify({
    modules: state.modules,
    ranks: state.ranks,
    total: state.total,
    budget0: state.budget0,
    remaining: state.remaining,
  });
}

/**
 * Parses and validates JSON text written by {@linkcode rankStateToJson}.
 *
 * @param text JSON text.
 * @returns The frozen state.
 * @throws {SyntaxError} If the text is not JSON.
 * @throws {TypeError} If a field is missing or has the wrong type.
 * @throws {RangeError} If ranks are not positive integers or the totals are inconsistent.
 *
 * @example Usage
 * ```ts
 * import { rankStateFromJson } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = rankStateFromJson(
 *   '{"modules":["q"],"ranks":[3],"total":3,"budget0":8,"remaining":5}',
 * );
 * assert.equal(state.remaining, 5);
 * assert.throws(() => rankStateFromJson('{"modules":["q"],"ranks":[3],"total":4,"budget0":8,"remaining":4}'), RangeError);
 * ```
 */
export function rankStateFromJson(text: string): RankState {
  const action = "read rank state";
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Cannot ${action} as the JSON must be an object: current value is ${show(value)}`,
    );
  }
  const record = value as Record<string, unknown>;
  const { modules, ranks, total, budget0, remaining } = record;
  assertModules(action, modules);
  if (!Array.isArray(ranks)) {
    throw new TypeError(
      `Cannot ${action} as ranks must be an array: current value is ${show(ranks)}`,
    );
  }
  if (ranks.length !== modules.length) {
    throw new RangeError(
      `Cannot ${action} as ranks must have one entry per module (${modules.length}): current length is ${ranks.length}`,
    );
  }
  ranks.forEach((r, i) => assertInteger(action, `ranks[${i}]`, r, 1));
  assertInteger(action, "budget0", budget0, 1);
  assertInteger(action, "total", total, 1);
  assertInteger(action, "remaining", remaining, Number.MIN_SAFE_INTEGER);
  const sum = (ranks as number[]).reduce((a, b) => a + b, 0);
  if (sum !== total) {
    throw new RangeError(
      `Cannot ${action} as total must equal the sum of ranks ${sum}: current value is ${total}`,
    );
  }
  if (total + remaining !== budget0) {
    throw new RangeError(
      `Cannot ${action} as total + remaining must equal budget0 ${budget0}: current values are ${total} + ${remaining}`,
    );
  }
  return freezeState(modules, ranks as number[], budget0);
}
