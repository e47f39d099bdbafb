/**
 * Constructive fast-check arbitraries shared by the specs: every generated value is valid by
 * construction (no `.filter`, no `fc.pre`). Invalid inputs have their own generators.
 *
 * @module
 */

import { fc } from "./_fc.ts";
import {
  type AdaLoraBudgetConfig,
  allocate,
  type AllocationConfig,
  type AllocationDecision,
  type AllocationSchedule,
  createRankState,
  growRanks,
  type PlanConfig,
  type RankState,
  type Rounding,
  type ThresholdMode,
} from "../core/mod.ts";

/** Recursively freezes a value (arrays and plain objects) and returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Deep structural copy of plain data (for before/after comparisons). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Distinct module names `m0 … m{n−1}`, `n` in `[min, max]`. */
export function moduleNamesArb(min = 1, max = 24): fc.Arbitrary<readonly string[]> {
  return fc.integer({ min, max }).map((n) => Array.from({ length: n }, (_, i) => `m${i}`));
}

/** A valid allocation schedule: `t0 ≥ 0`, `interval ≥ 1`, `T > t0`. */
export function scheduleArb(): fc.Arbitrary<AllocationSchedule> {
  return fc.record({
    initWarmup: fc.integer({ min: 0, max: 200 }),
    interval: fc.integer({ min: 1, max: 50 }),
    span: fc.integer({ min: 1, max: 600 }),
  }).map(({ initWarmup, interval, span }) => ({
    initWarmup,
    interval,
    totalSteps: initWarmup + span,
  }));
}

/** Threshold settings; `allowOvershoot` fixed by the caller when given. */
export function thresholdArb(
  allowOvershoot?: boolean,
): fc.Arbitrary<
  {
    threshold: ThresholdMode;
    topH: number;
    rounding: Rounding;
    allowOvershoot: boolean;
    deltaRank: number;
  }
> {
  return fc.record({
    threshold: fc.constantFrom<ThresholdMode>("linear", "nonlinear", "fixed"),
    topH: fc.integer({ min: 1, max: 30 }),
    rounding: fc.constantFrom<Rounding>("floor", "ceil"),
    allowOvershoot: allowOvershoot === undefined ? fc.boolean() : fc.constant(allowOvershoot),
    deltaRank: fc.integer({ min: 1, max: 8 }),
  });
}

/** A whole-run plan config (`M ≤ 80`, `refRank ≤ initRank + 12`). */
export function planConfigArb(allowOvershoot?: boolean): fc.Arbitrary<PlanConfig> {
  return fc.record({
    matrices: fc.integer({ min: 1, max: 80 }),
    initRank: fc.integer({ min: 1, max: 4 }),
    extraRank: fc.integer({ min: 0, max: 12 }),
    schedule: scheduleArb(),
    threshold: thresholdArb(allowOvershoot),
  }).map(({ matrices, initRank, extraRank, schedule, threshold }) => ({
    matrices,
    initRank,
    refRank: initRank + extraRank,
    ...schedule,
    ...threshold,
  }));
}

/** A fresh rank state with `M` modules in `[minModules, maxModules]`. */
export function freshStateArb(minModules = 1, maxModules = 24): fc.Arbitrary<RankState> {
  return fc.record({
    modules: moduleNamesArb(minModules, maxModules),
    initRank: fc.integer({ min: 1, max: 4 }),
    extraRank: fc.integer({ min: 0, max: 12 }),
  }).map(({ modules, initRank, extraRank }) =>
    createRankState({ modules, initRank, refRank: initRank + extraRank })
  );
}

/** A rank state part-way through a run: a fresh state grown by grants that fit the budget. */
export function rankStateArb(minModules = 1, maxModules = 24): fc.Arbitrary<RankState> {
  return fc.tuple(
    freshStateArb(minModules, maxModules),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })), { maxLength: 30 }),
  ).map(([state, raw]) => {
    let s = state;
    for (const [i, amount] of raw) {
      if (s.remaining <= 0) break;
      s = growRanks(s, [{ index: i % s.modules.length, amount: Math.min(amount, s.remaining) }]);
    }
    return s;
  });
}

/** Non-negative finite norms of length `m` (Frobenius norms). */
export function normsArb(m: number): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: 0, max: 1e3, noNaN: true, noDefaultInfinity: true }), {
    minLength: m,
    maxLength: m,
  });
}

/**
 * Normalised norms that make eq. 11 scores distinct by construction: `values` are distinct
 * integers (the normalised norms now) and `previous` lie in `[0, 0.5)`, so `value − previous`
 * never ties. Used where a law holds only without ties (equivariance, scaling by any `c`).
 */
export function separatedScoresArb(
  m: number,
): fc.Arbitrary<{ values: number[]; previous: number[] }> {
  return fc.record({
    values: fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: m, maxLength: m }),
    previous: fc.array(fc.double({ min: 0, max: 0.5, maxExcluded: true, noNaN: true }), {
      minLength: m,
      maxLength: m,
    }),
  });
}

/** An allocation config plus a fresh state whose module count matches nothing in particular. */
export interface AllocationCase {
  state: RankState;
  config: AllocationConfig & { normalisation: "rank" | "sqrt" | "none" };
  /** Norm sequences, one per candidate event step (cycled). */
  norms: number[][];
  previous: number[];
}

/** A fresh state, an allocation config and a few norm vectors to feed a whole run. */
export function allocationCaseArb(allowOvershoot?: boolean): fc.Arbitrary<AllocationCase> {
  return fc.record({
    state: freshStateArb(1, 16),
    schedule: scheduleArb(),
    threshold: thresholdArb(allowOvershoot),
    normalisation: fc.constantFrom("rank" as const, "sqrt" as const, "none" as const),
    seeds: fc.array(
      fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 16, maxLength: 16 }),
      {
        minLength: 2,
        maxLength: 5,
      },
    ),
  }).map(({ state, schedule, threshold, normalisation, seeds }) => {
    const m = state.modules.length;
    const norms = seeds.map((s) => s.slice(0, m));
    return {
      state,
      config: { ...schedule, ...threshold, normalisation },
      norms: norms.slice(1),
      previous: norms[0] ?? [],
    };
  });
}

/** A valid AdaLoRA budget config (`tinit + tfinal < T`, `target ≤ init`). */
export function adaloraBudgetConfigArb(): fc.Arbitrary<AdaLoraBudgetConfig> {
  return fc.record({
    targetBudget: fc.integer({ min: 0, max: 1000 }),
    extraBudget: fc.integer({ min: 0, max: 1000 }),
    tinit: fc.integer({ min: 0, max: 2000 }),
    tfinal: fc.integer({ min: 0, max: 2000 }),
    middle: fc.integer({ min: 1, max: 3000 }),
    deltaT: fc.integer({ min: 1, max: 100 }),
  }).map(({ targetBudget, extraBudget, tinit, tfinal, middle, deltaT }) => ({
    initBudget: targetBudget + extraBudget,
    targetBudget,
    tinit,
    tfinal,
    deltaT,
    totalSteps: tinit + tfinal + middle,
  }));
}

/** One step of a simulated run: the decision taken at `step`. */
export interface RunStep {
  step: number;
  before: RankState;
  decision: AllocationDecision;
}

/**
 * Drives {@linkcode allocate} over every step from 1 to `T` that is a multiple of the interval
 * (events and non-events), cycling through the case's norm vectors.
 */
export function runAllocation(c: AllocationCase): RunStep[] {
  const out: RunStep[] = [];
  let state = c.state;
  let previous: readonly number[] = c.previous;
  let i = 0;
  for (let step = c.config.interval; step <= c.config.totalSteps; step += c.config.interval) {
    const norms = c.norms[i++ % c.norms.length] ?? [];
    const decision = allocate(state, norms, previous, step, c.config);
    out.push({ step, before: state, decision });
    state = decision.state;
    previous = decision.previous;
  }
  return out;
}
