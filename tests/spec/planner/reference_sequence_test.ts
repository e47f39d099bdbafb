/**
 * The reference code's event sequences for RTE (M 72, r_ref 8, Δr 4, t0 100, interval 100,
 * T 3900, floor; docs/METHOD.md §7). Both sequences come out identically in the default
 * no-overshoot mode and with `allowOvershoot`: the budget R = 504 stays a multiple of Δr = 4 and
 * every k·Δr ≤ R, so the clamp never binds. Each test states its mode.
 */
import assert from "node:assert/strict";
import { planAllocation, type PlanConfig } from "../../../core/mod.ts";

const RTE: PlanConfig = {
  matrices: 72,
  initRank: 1,
  refRank: 8,
  deltaRank: 4,
  initWarmup: 100,
  interval: 100,
  totalSteps: 3900,
  threshold: "linear",
  rounding: "floor",
};

const NONLINEAR_K = [1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 11, 8, 5];

for (const allowOvershoot of [false, true]) {
  const mode = allowOvershoot ? "allowOvershoot" : "default clamp";
  Deno.test(`planAllocation() reproduces the reference linear sequence (${mode})`, () => {
    const events = planAllocation({ ...RTE, allowOvershoot });
    assert.deepEqual(events.map((e) => e.k), [13, 23, 28, 26, 18, 11, 5, 1, 1]);
    assert.deepEqual(events.map((e) => e.step), [200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    assert.deepEqual(
      events.map((e) => e.remainingAfter),
      [452, 360, 248, 144, 72, 28, 8, 4, 0],
    );
  });

  Deno.test(`planAllocation() reproduces the reference nonlinear sequence (${mode})`, () => {
    const events = planAllocation({ ...RTE, threshold: "nonlinear", allowOvershoot });
    assert.deepEqual(events.map((e) => e.k), NONLINEAR_K);
    assert.equal(events[0]?.step, 200);
    assert.equal(events.at(-1)?.step, 2300);
    assert.equal(events.at(-1)?.remainingAfter, 0);
  });
}
