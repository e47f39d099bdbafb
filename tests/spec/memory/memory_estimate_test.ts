import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { estimateStepMemory, examplesPerPass, type StepShape } from "../../../core/mod.ts";

const shapeArb: fc.Arbitrary<StepShape> = fc.record({
  layers: fc.integer({ min: 1, max: 48 }),
  hidden: fc.integer({ min: 1, max: 2048 }),
  intermediate: fc.integer({ min: 1, max: 8192 }),
  heads: fc.integer({ min: 1, max: 32 }),
  vocab: fc.integer({ min: 1, max: 256_000 }),
  batch: fc.integer({ min: 1, max: 64 }),
  seqLength: fc.integer({ min: 1, max: 1024 }),
  trainable: fc.nat(10_000_000),
  recompute: fc.constantFrom(false, true, "selective" as const),
});

Deno.test("estimateStepMemory(): DeBERTa-v3-base at 8 × 128 needs > 4 GiB plain and < 4 GiB with recompute: example", () => {
  const base = {
    layers: 12,
    hidden: 768,
    intermediate: 3072,
    heads: 12,
    vocab: 128100,
    batch: 8,
    seqLength: 128,
    trainable: 1_327_104,
  };
  const GiB = 2 ** 30;
  const plain = estimateStepMemory({ ...base, recompute: false });
  const re = estimateStepMemory({ ...base, recompute: true });
  // One plain layer ≈ 1.26 GiB (the measured 1243 MiB of the step bench's one base layer).
  assert.ok(plain.activations / 12 > 1.15 * GiB && plain.activations / 12 < 1.35 * GiB);
  assert.ok(plain.total > 12 * GiB);
  assert.ok(re.total < 2.5 * GiB);
  // Selective keeps 7·h + 2·I + H·s more floats per token per layer and two more position
  // tables: 12 × 4 B × (1024 × (11520 + 1536) + 2 × 255 × 768) ≈ 0.62 GiB more than full
  // recompute.
  const sel = estimateStepMemory({ ...base, recompute: "selective" });
  assert.ok(sel.total - re.total > 0.6 * GiB && sel.total - re.total < 0.65 * GiB);
  assert.ok(sel.total < 4 * GiB);
});

Deno.test("estimateStepMemory() is monotone (non-decreasing) in the batch", () => {
  fc.assert(fc.property(shapeArb, fc.integer({ min: 1, max: 64 }), (shape, more) => {
    const a = estimateStepMemory(shape).total;
    const b = estimateStepMemory({ ...shape, batch: shape.batch + more }).total;
    assert.ok(b >= a);
  }));
});

Deno.test("estimateStepMemory() is monotone (non-decreasing) in the sequence length", () => {
  fc.assert(fc.property(shapeArb, fc.integer({ min: 1, max: 512 }), (shape, more) => {
    const a = estimateStepMemory(shape).total;
    const b = estimateStepMemory({ ...shape, seqLength: shape.seqLength + more }).total;
    assert.ok(b >= a);
  }));
});

Deno.test("estimateStepMemory(): recompute ≤ selective recompute ≤ plain for two or more layers", () => {
  fc.assert(fc.property(shapeArb, (shape) => {
    const layers = Math.max(2, shape.layers);
    const re = estimateStepMemory({ ...shape, layers, recompute: true }).total;
    const sel = estimateStepMemory({ ...shape, layers, recompute: "selective" }).total;
    const plain = estimateStepMemory({ ...shape, layers, recompute: false }).total;
    assert.ok(re <= sel && sel <= plain);
  }));
});

Deno.test("estimateStepMemory(): the activation term is affine in the batch, so k micro-batches of m divide its batch part by k", () => {
  fc.assert(fc.property(shapeArb, fc.integer({ min: 2, max: 8 }), (shape, k) => {
    // A(b) = fixed + b·perExample; exact in doubles (integers far below 2^53).
    const act = (batch: number): number => estimateStepMemory({ ...shape, batch }).activations;
    const m = shape.batch;
    const slope = act(m + 1) - act(m);
    assert.equal(act(k * m) - act(m), (k - 1) * m * slope);
    assert.ok(slope > 0);
  }));
});

Deno.test("estimateStepMemory(): the parts are non-negative and add up to the total", () => {
  fc.assert(fc.property(shapeArb, (shape) => {
    const m = estimateStepMemory(shape);
    assert.ok(m.frozen > 0 && m.trainable >= 0 && m.activations > 0);
    assert.equal(m.total, m.frozen + m.trainable + m.activations);
  }));
});

Deno.test("examplesPerPass() is the micro-batch (capped at the batch), else one share per worker", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 512 }),
    fc.option(fc.integer({ min: 1, max: 512 }), { nil: undefined }),
    fc.integer({ min: 1, max: 64 }),
    (batch, micro, workers) => {
      const n = examplesPerPass(batch, micro, workers);
      assert.ok(n >= 1 && n <= batch);
      if (micro !== undefined) assert.equal(n, Math.min(batch, micro));
      else assert.ok(n * workers >= batch && (n - 1) * workers < batch);
    },
  ));
  assert.throws(() => examplesPerPass(0, undefined, 1), /batch/);
});

Deno.test("estimateStepMemory() refuses a non-integer or zero count, naming it", () => {
  const ok: StepShape = {
    layers: 1,
    hidden: 8,
    intermediate: 16,
    heads: 2,
    vocab: 16,
    batch: 1,
    seqLength: 4,
    trainable: 0,
    recompute: false,
  };
  assert.throws(() => estimateStepMemory({ ...ok, batch: 0 }), /batch must be an integer >= 1/);
  assert.throws(() => estimateStepMemory({ ...ok, seqLength: 1.5 }), /seqLength/);
  assert.throws(() => estimateStepMemory({ ...ok, trainable: -1 }), /trainable/);
});

Deno.test("estimateStepMemory(): without kept weight copies the frozen part is smaller by exactly one float per encoder linear weight", () => {
  fc.assert(fc.property(shapeArb, (shape) => {
    const kept = estimateStepMemory({ ...shape, keptWeightCopies: true });
    const none = estimateStepMemory({ ...shape, keptWeightCopies: false });
    const { layers, hidden: h, intermediate: i } = shape;
    assert.equal(kept.frozen - none.frozen, 4 * layers * (4 * h * h + 2 * h * i));
    assert.equal(kept.activations, none.activations);
    assert.deepEqual(estimateStepMemory(shape), kept, "the default keeps the copies");
  }));
});
