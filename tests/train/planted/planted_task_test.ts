import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  createPlantedTask,
  plantedRankPattern,
  resolvePlantedOptions,
} from "../../../train/planted/planted_task.ts";
import { TINY_PLANTED, tinyBackend } from "../loop/_tiny.ts";

await tinyBackend();

const FAMILIES = [
  "attention.self.query_proj",
  "attention.self.key_proj",
  "attention.self.value_proj",
  "attention.output.dense",
  "intermediate.dense",
  "output.dense",
];

function names(layers: number): string[] {
  return Array.from(
    { length: layers },
    (_, l) => FAMILIES.map((f) => `deberta.encoder.layer.${l}.${f}`),
  )
    .flat();
}

Deno.test("plantedRankPattern() is heterogeneous: many zeros, a few large ranks", () => {
  // Arrange
  const modules = names(4);
  for (let seed = 0; seed < 20; seed++) {
    // Act
    const ranks = plantedRankPattern(modules, 4, 8, seed);
    // Assert
    assert.equal(ranks.length, 24);
    assert.ok(ranks.every((r) => Number.isInteger(r) && r >= 0 && r <= 8));
    assert.ok(ranks.filter((r) => r === 0).length >= 12, `seed ${seed}: ${ranks}`);
    assert.ok(ranks.some((r) => r >= 3), `seed ${seed}: ${ranks}`);
  }
});

Deno.test("plantedRankPattern() concentrates rank in the upper layers and in few families", () => {
  // Arrange
  const modules = names(4);
  let upper = 0;
  let lower = 0;
  for (let seed = 0; seed < 20; seed++) {
    // Act
    const ranks = plantedRankPattern(modules, 4, 8, seed);
    ranks.forEach((r, i) => (i >= 12 ? (upper += r) : (lower += r)));
    const perFamily = FAMILIES.map((_, f) =>
      ranks.filter((_, i) => i % 6 === f).reduce((a, b) => a + b, 0)
    );
    const sorted = [...perFamily].sort((a, b) => b - a);
    // Assert: the two hottest families hold most of the planted rank.
    assert.ok(sorted[0]! + sorted[1]! >= 0.6 * ranks.reduce((a, b) => a + b, 0), `seed ${seed}`);
  }
  assert.ok(upper > 2 * lower, `upper ${upper} vs lower ${lower}`);
});

Deno.test("plantedRankPattern() is seeded", () => {
  const modules = names(4);
  assert.deepEqual(plantedRankPattern(modules, 4, 8, 7), plantedRankPattern(modules, 4, 8, 7));
  const differs = [1, 2, 3, 4].some((s) =>
    plantedRankPattern(modules, 4, 8, s).join() !== plantedRankPattern(modules, 4, 8, 0).join()
  );
  assert.ok(differs);
});

Deno.test("resolvePlantedOptions() rejects bad sizes with a RangeError naming the field", () => {
  assert.throws(
    () => resolvePlantedOptions({ seed: 0, layers: 0 }),
    /layers must be an integer >= 1/,
  );
  assert.throws(
    () => resolvePlantedOptions({ seed: 0, hidden: 10, heads: 4 }),
    /heads must divide hidden/,
  );
  assert.throws(() => resolvePlantedOptions({ seed: 0, strength: -1 }), /strength/);
  assert.throws(() => resolvePlantedOptions({ seed: 1.5 }), /seed/);
});

Deno.test("createPlantedTask() gives the untrained student a relative training MSE of 1 and is deterministic", async () => {
  // Arrange
  const a = await createPlantedTask({ ...TINY_PLANTED, seed: 4 });
  const b = await createPlantedTask({ ...TINY_PLANTED, seed: 4 });
  const c = await createPlantedTask({ ...TINY_PLANTED, seed: 5 });
  const before = tf.memory().numTensors;
  try {
    const all = Array.from({ length: TINY_PLANTED.trainExamples! }, (_, i) => i);
    for (const task of [a, b, c]) {
      const model = task.buildModel(0);
      // Act: the student is the base model (no adapters), so the normalised MSE is exactly 1.
      const loss = task.loss(model, all, { training: false, seed: 0 });
      const value = (await loss.data())[0]!;
      loss.dispose();
      const ev = await task.evaluate(model, {
        ranks: new Map(task.planted.modules.map((m) => [m, 1])),
      });
      model.dispose();
      // Assert (float32 sums over 512 values: 1e-4 relative)
      assert.ok(Math.abs(value - 1) < 1e-4, `train relative MSE ${value}`);
      assert.ok(ev.value > 0.3 && ev.value < 3, `held-out relative MSE ${ev.value}`);
      assert.equal(ev.metric, "heldout_mse");
      assert.equal(ev.all.rank_spearman, 0); // constant allocation: no correlation
    }
    assert.deepEqual(a.planted, b.planted);
    assert.deepEqual(a.describe(), b.describe());
    assert.notDeepEqual(a.describe().baselineMse, c.describe().baselineMse);
    assert.equal(tf.memory().numTensors, before);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

Deno.test("createPlantedTask() evaluation reports the Spearman of allocated vs planted ranks", async () => {
  // Arrange
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 6 });
  const model = task.buildModel(0);
  try {
    const { modules, ranks } = task.planted;
    // Act
    const same = await task.evaluate(model, {
      ranks: new Map(modules.map((m, i) => [m, ranks[i]! + 1])),
    });
    const reversed = await task.evaluate(model, {
      ranks: new Map(modules.map((m, i) => [m, 10 - ranks[i]!])),
    });
    // Assert
    assert.ok(Math.abs(same.all.rank_spearman! - 1) < 1e-12);
    assert.ok(Math.abs(reversed.all.rank_spearman! + 1) < 1e-12);
  } finally {
    model.dispose();
    task.dispose();
  }
});
