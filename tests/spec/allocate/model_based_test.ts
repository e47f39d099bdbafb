/**
 * Model-based test of the allocation controller (STYLE lesson 9): commands `Step`,
 * `Checkpoint` and `Restore` run against the real `allocate()` + JSON round-trip and against a
 * model that only tracks `{ step, remaining }` and reads the expected events from the planner.
 */
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { freshStateArb, normsArb, scheduleArb, thresholdArb } from "../../arbitraries.ts";
import {
  allocate,
  type AllocationConfig,
  createRankState,
  parseTriAdaptConfig,
  planAllocation,
  type PlanEvent,
  type RankState,
  rankStateFromJson,
  rankStateToJson,
} from "../../../core/mod.ts";

interface Model {
  step: number;
  remaining: number;
  saved: { step: number; remaining: number } | undefined;
  readonly plan: ReadonlyMap<number, PlanEvent>;
}

interface Real {
  state: RankState;
  previous: readonly number[];
  step: number;
  saved: { json: string; previous: readonly number[]; step: number } | undefined;
  readonly config: AllocationConfig;
}

function checkInvariants(m: Model, r: Real): void {
  assert.equal(r.step, m.step);
  assert.equal(r.state.remaining, m.remaining);
  assert.equal(r.state.total + r.state.remaining, r.state.budget0);
  if (r.config.allowOvershoot !== true) assert.ok(r.state.remaining >= 0);
}

class StepCommand implements fc.Command<Model, Real> {
  constructor(readonly norms: readonly number[]) {}
  check(m: Readonly<Model>): boolean {
    return m.step < 10_000;
  }
  run(m: Model, r: Real): void {
    const step = r.step + r.config.interval;
    const before = r.state.ranks;
    const d = allocate(
      r.state,
      this.norms.slice(0, r.state.modules.length),
      r.previous,
      step,
      r.config,
    );
    const expected = m.plan.get(step);
    if (m.remaining > 0 && expected !== undefined) {
      assert.equal(d.k, expected.k);
      m.remaining = expected.remainingAfter;
    } else {
      assert.equal(d.k, 0);
    }
    d.state.ranks.forEach((rank, i) => assert.ok(rank >= (before[i] ?? Infinity)));
    m.step = step;
    r.step = step;
    r.state = d.state;
    r.previous = d.previous;
    checkInvariants(m, r);
  }
  toString(): string {
    return "Step";
  }
}

class CheckpointCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    m.saved = { step: m.step, remaining: m.remaining };
    r.saved = { json: rankStateToJson(r.state), previous: [...r.previous], step: r.step };
  }
  toString(): string {
    return "Checkpoint";
  }
}

class RestoreCommand implements fc.Command<Model, Real> {
  check(m: Readonly<Model>): boolean {
    return m.saved !== undefined;
  }
  run(m: Model, r: Real): void {
    const saved = r.saved;
    assert.ok(saved !== undefined && m.saved !== undefined);
    r.state = rankStateFromJson(saved.json);
    r.previous = saved.previous;
    r.step = saved.step;
    m.step = m.saved.step;
    m.remaining = m.saved.remaining;
    checkInvariants(m, r);
  }
  toString(): string {
    return "Restore";
  }
}

Deno.test("allocate() resumes from a JSON checkpoint exactly: RTE example", () => {
  // Arrange: the linear RTE run, checkpointed after the event at step 400
  const config = parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 });
  const modules = Array.from({ length: 72 }, (_, i) => `m${i}`);
  const norms = (step: number): number[] => modules.map((_, i) => ((i * 7 + step) % 13) + 1);
  const run = (from: number, state: RankState, previous: readonly number[]) => {
    const ks: number[] = [];
    for (let step = from; step <= 1000; step += 100) {
      const d = allocate(state, norms(step), previous, step, config);
      ks.push(d.k);
      state = d.state;
      previous = d.previous;
    }
    return { ks, state };
  };
  const fresh = createRankState({ modules, initRank: 1, refRank: 8 });
  const start = modules.map(() => 0);
  // Act
  const whole = run(100, fresh, start);
  const head = { state: fresh, previous: start as readonly number[] };
  for (let step = 100; step <= 400; step += 100) {
    const d = allocate(head.state, norms(step), head.previous, step, config);
    head.state = d.state;
    head.previous = d.previous;
  }
  const tail = run(500, rankStateFromJson(rankStateToJson(head.state)), [...head.previous]);
  // Assert
  assert.deepEqual(whole.ks, [0, 13, 23, 28, 26, 18, 11, 5, 1, 1]);
  assert.deepEqual(tail.ks, whole.ks.slice(4));
  assert.deepEqual(tail.state, whole.state);
});

Deno.test("allocate() controller agrees with the {step, remaining} model under Step/Checkpoint/Restore", () => {
  fc.assert(
    fc.property(
      freshStateArb(1, 16),
      scheduleArb(),
      thresholdArb(),
      fc.commands(
        [
          normsArb(16).map((n) => new StepCommand(n)),
          fc.constant(new CheckpointCommand()),
          fc.constant(new RestoreCommand()),
        ],
        { maxCommands: 60 },
      ),
      (state, schedule, threshold, commands) => {
        const config: AllocationConfig = { ...schedule, ...threshold };
        const plan = planAllocation({
          ...config,
          matrices: state.modules.length,
          initRank: state.ranks[0] ?? 1,
          refRank: state.budget0 / state.modules.length,
        });
        const setup = () => ({
          model: {
            step: 0,
            remaining: state.remaining,
            saved: undefined,
            plan: new Map(plan.map((e) => [e.step, e])),
          } satisfies Model,
          real: {
            state,
            previous: state.ranks.map(() => 0),
            step: 0,
            saved: undefined,
            config,
          } satisfies Real,
        });
        fc.modelRun(setup, commands);
      },
    ),
  );
});
