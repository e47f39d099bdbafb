/**
 * Eq. 11 compares with the previous allocation *event* `t'` (docs/METHOD.md §4), not with the
 * previous call: `allocate()` hands back, as `previous`, this step's normalised norms (with the
 * ranks before growth) after an event, and its input unchanged otherwise.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";
import { allocate, createRankState, normalisedNorms } from "../../../core/mod.ts";

Deno.test("allocate() scores compare with the previous event, not the previous call: example", () => {
  // Arrange: events at steps 2 and 4 only (t0 1, interval 2), so step 3 is a non-event
  const config = {
    initWarmup: 1,
    interval: 2,
    totalSteps: 10,
    threshold: "fixed",
    topH: 1,
    deltaRank: 1,
  } as const;
  const state = createRankState({ modules: ["a", "b"], initRank: 1, refRank: 5 });
  const init = [1, 1];
  // Act / Assert
  const at2 = allocate(state, [3, 2], init, 2, config); // scores [2, 1]: a grows to rank 2
  assert.deepEqual(at2.scores, [2, 1]);
  assert.deepEqual(at2.state.ranks, [2, 1]);
  assert.deepEqual(at2.previous, [3, 2]); // normalised with the ranks before growth
  const at3 = allocate(at2.state, [100, 100], at2.previous, 3, config); // not an event
  assert.equal(at3.event, false);
  assert.deepEqual(at3.scores, [50 - 3, 100 - 2]);
  assert.equal(at3.previous, at2.previous); // still the event at step 2
  const at4 = allocate(at3.state, [8, 2], at3.previous, 4, config);
  assert.deepEqual(at4.scores, [8 / 2 - 3, 2 - 2]); // against step 2, not step 3
  assert.deepEqual(at4.grown.map((g) => g.module), ["a"]);
  assert.deepEqual(at4.previous, [4, 2]);
});

Deno.test("allocate() scores are ‖D‖/N(r) now minus the value remembered at the last event", () => {
  fc.assert(
    fc.property(allocationCaseArb(), (c) => {
      let remembered: readonly number[] = c.previous;
      runAllocation(c).forEach(({ before, decision }, i) => {
        const norms = c.norms[i % c.norms.length] ?? [];
        const now = normalisedNorms(norms, before.ranks, c.config.normalisation);
        assert.deepEqual(decision.scores, now.map((x, j) => x - (remembered[j] ?? Number.NaN)));
        if (decision.event) assert.deepEqual(decision.previous, now);
        else assert.deepEqual(decision.previous, remembered);
        remembered = decision.previous;
      });
    }),
  );
});
