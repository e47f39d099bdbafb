import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { planConfigArb, scheduleArb } from "../../arbitraries.ts";
import { candidateSteps, isAllocationStep, planAllocation } from "../../../core/mod.ts";

Deno.test("isAllocationStep() boundaries: examples", () => {
  const s = { initWarmup: 100, interval: 100, totalSteps: 3900 };
  assert.equal(isAllocationStep(0, s, 504), false);
  assert.equal(isAllocationStep(100, s, 504), false);
  assert.equal(isAllocationStep(200, s, 504), true);
  assert.equal(isAllocationStep(201, s, 504), false);
  assert.equal(isAllocationStep(3800, s, 504), true);
  // never at T: the reference trainer's loop ends before an allocation check at T (METHOD §19)
  assert.equal(isAllocationStep(3900, s, 504), false);
  assert.equal(isAllocationStep(4000, s, 504), false);
  assert.equal(isAllocationStep(200, s, 0), false);
  // candidate steps: multiples of the interval in (t0, T), T excluded
  assert.deepEqual(candidateSteps({ initWarmup: 10, interval: 4, totalSteps: 24 }), [12, 16, 20]);
  assert.deepEqual(candidateSteps({ initWarmup: 12, interval: 4, totalSteps: 23 }), [16, 20]);
});

Deno.test("isAllocationStep() is true exactly when t0 < step < T, on the interval and R > 0", () => {
  fc.assert(
    fc.property(scheduleArb(), fc.nat(1000), fc.integer({ min: -5, max: 5 }), (s, step, r) => {
      const expected = step > s.initWarmup && step % s.interval === 0 &&
        step < s.totalSteps && r > 0;
      assert.equal(isAllocationStep(step, s, r), expected);
      assert.equal(candidateSteps(s).includes(step), isAllocationStep(step, s, 1));
    }),
  );
});

Deno.test("planAllocation() has no event before t0 or off-interval", () => {
  fc.assert(
    fc.property(planConfigArb(), (config) => {
      const events = planAllocation(config);
      for (const e of events) {
        assert.ok(e.step > config.initWarmup && e.step <= config.totalSteps);
        assert.equal(e.step % config.interval, 0);
        assert.ok(e.alpha > 0 && e.alpha <= 1);
      }
      // strictly increasing, consecutive candidate steps
      const steps = events.map((e) => e.step);
      assert.deepEqual(steps, candidateSteps(config).slice(0, steps.length));
    }),
  );
});
