import assert from "node:assert/strict";
import {
  appendJsonLine,
  appendMetrics,
  appendRankEvent,
  checkpointName,
  checkpointStep,
  createRunFolder,
  openRunFolder,
  readJsonLines,
  readLatestCheckpointDir,
  readRunConfig,
  type RunFolder,
  writeCheckpoint,
  writeRunConfig,
} from "../../train/run_folder.ts";

async function withRun(fn: (run: RunFolder) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "triadapt-run-" });
  try {
    await fn(await createRunFolder(`${root}/runs/test`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** A checkpoint writer that stores a weights file and a state file naming the step. */
function saveState(step: number) {
  return async (dir: string): Promise<void> => {
    await Deno.writeFile(`${dir}/weights.bin`, new Uint8Array(4096).fill(step & 0xff));
    await Deno.writeTextFile(`${dir}/state.json`, JSON.stringify({ step }));
  };
}

async function readState(dir: string): Promise<{ step: number; weights: Uint8Array }> {
  const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as { step: number };
  return { step: state.step, weights: await Deno.readFile(`${dir}/weights.bin`) };
}

Deno.test("createRunFolder() lays out the folder and refuses to reuse a run", async () => {
  await withRun(async (run) => {
    assert.deepEqual(await entries(run.dir), ["checkpoints"]);
    assert.ok(run.metricsPath.endsWith("metrics.jsonl"));
    assert.ok(run.ranksPath.endsWith("ranks.jsonl"));
    assert.ok(run.heatmapPath.endsWith("rank-heatmap.svg"));
    assert.ok(run.lossChartPath.endsWith("loss.svg"));
    await writeRunConfig(run, { task: "rte" });
    await assert.rejects(() => createRunFolder(run.dir), /must not hold a run yet/);
    assert.equal((await createRunFolder(run.dir, { overwrite: true })).dir, run.dir);
  });
});

Deno.test("openRunFolder() needs config.json", async () => {
  await withRun(async (run) => {
    await assert.rejects(() => openRunFolder(run.dir), Deno.errors.NotFound);
    await writeRunConfig(run, { task: "rte", versions: { deno: Deno.version.deno } });
    const opened = await openRunFolder(run.dir);
    assert.deepEqual(await readRunConfig(opened), {
      task: "rte",
      versions: { deno: Deno.version.deno },
    });
  });
});

Deno.test("readRunConfig() names the file when config.json is not JSON", async () => {
  await withRun(async (run) => {
    await Deno.writeTextFile(run.configPath, "{oops");
    await assert.rejects(() => readRunConfig(run), (e) => {
      assert.ok(e instanceof SyntaxError);
      assert.ok(e.message.includes("config.json"));
      return true;
    });
  });
});

Deno.test("appendMetrics() and appendRankEvent() append one JSON line each, in order", async () => {
  await withRun(async (run) => {
    await appendMetrics(run, {
      kind: "train",
      step: 10,
      epoch: 0.13,
      loss: 0.69,
      lr: 1e-4,
      ranksTotal: 72,
      budgetLeft: 504,
      stepMs: 800,
    });
    await appendMetrics(run, {
      kind: "eval",
      step: 10,
      epoch: 0.13,
      metric: 0.55,
      metricName: "accuracy",
      metrics: { accuracy: 0.55 },
      ranksTotal: 72,
      budgetLeft: 504,
    });
    await appendRankEvent(run, {
      step: 200,
      k: 2,
      scores: [0.5, -0.25, 0.1],
      grown: ["layer.0.query", "layer.0.value"],
      ranks: [5, 1, 5],
      budgetLeft: 496,
    });
    const metrics = await readJsonLines(run.metricsPath);
    assert.deepEqual(metrics.map((m) => (m as { kind: string }).kind), ["train", "eval"]);
    const text = await Deno.readTextFile(run.metricsPath);
    assert.equal(text.split("\n").length, 3, "two lines, each newline-terminated");
    assert.deepEqual((await readJsonLines(run.ranksPath))[0], {
      step: 200,
      k: 2,
      scores: [0.5, -0.25, 0.1],
      grown: ["layer.0.query", "layer.0.value"],
      ranks: [5, 1, 5],
      budgetLeft: 496,
    });
  });
});

Deno.test("appendJsonLine() writes a NaN loss as null rather than breaking the line", async () => {
  await withRun(async (run) => {
    await appendJsonLine(run.metricsPath, { step: 1, loss: NaN });
    assert.deepEqual(await readJsonLines(run.metricsPath), [{ step: 1, loss: null }]);
  });
});

Deno.test("readJsonLines() drops a torn last line but rejects a bad complete line", async () => {
  await withRun(async (run) => {
    assert.deepEqual(await readJsonLines(run.metricsPath), [], "missing file reads empty");
    await Deno.writeTextFile(run.metricsPath, '{"step":1}\n{"step":2}\n{"step":3,"lo');
    assert.deepEqual(await readJsonLines(run.metricsPath), [{ step: 1 }, { step: 2 }]);
    await Deno.writeTextFile(run.metricsPath, '{"step":1}\n{"step":\n{"step":3}\n');
    await assert.rejects(() => readJsonLines(run.metricsPath), /metrics\.jsonl line 2/);
  });
});

Deno.test("writeCheckpoint() renames a complete folder into place and points latest at it", async () => {
  await withRun(async (run) => {
    const dir = await writeCheckpoint(run, 200, saveState(200));
    assert.equal(dir, `${run.checkpointsDir}/step-00000200`);
    assert.deepEqual(await entries(run.checkpointsDir), ["latest", "step-00000200"]);
    assert.equal(await Deno.readTextFile(`${run.checkpointsDir}/latest`), "step-00000200\n");
    assert.equal(await readLatestCheckpointDir(run), dir);
    assert.equal((await readState(dir)).step, 200);
  });
});

Deno.test("writeCheckpoint() leaves the previous checkpoint intact when the writer throws midway", async () => {
  await withRun(async (run) => {
    // Arrange: a good checkpoint at step 100.
    await writeCheckpoint(run, 100, saveState(100));
    // Act: the step-200 writer dies between its two files.
    const crash = new Error("simulated crash between writes");
    await assert.rejects(
      () =>
        writeCheckpoint(run, 200, async (dir) => {
          await Deno.writeFile(`${dir}/weights.bin`, new Uint8Array(4096).fill(200));
          throw crash;
        }),
      (e) => e === crash,
    );
    // Assert: latest still names step 100, whose files are whole; no step-200 folder remains.
    const latest = await readLatestCheckpointDir(run);
    assert.equal(latest, `${run.checkpointsDir}/step-00000100`);
    const state = await readState(latest ?? "");
    assert.equal(state.step, 100);
    assert.ok(state.weights.every((b) => b === 100));
    assert.deepEqual(await entries(run.checkpointsDir), ["latest", "step-00000100"]);
  });
});

Deno.test("readLatestCheckpointDir() ignores a half-written step-N.tmp left by a hard crash", async () => {
  await withRun(async (run) => {
    await writeCheckpoint(run, 100, saveState(100));
    // A killed process leaves its temporary folder behind (no cleanup ran).
    const tmp = `${run.checkpointsDir}/step-00000200.tmp`;
    await Deno.mkdir(tmp);
    await Deno.writeFile(`${tmp}/weights.bin`, new Uint8Array(10));
    assert.equal(await readLatestCheckpointDir(run), `${run.checkpointsDir}/step-00000100`);
    // The pointer vanishing as well still never selects the .tmp folder.
    await Deno.remove(`${run.checkpointsDir}/latest`);
    assert.equal(await readLatestCheckpointDir(run), `${run.checkpointsDir}/step-00000100`);
    // The next write of that step replaces the stale temporary folder.
    const dir = await writeCheckpoint(run, 200, saveState(200));
    assert.equal((await readState(dir)).step, 200);
    assert.ok(!(await entries(run.checkpointsDir)).includes("step-00000200.tmp"));
  });
});

Deno.test("readLatestCheckpointDir() trusts latest over a newer folder renamed just before a crash", async () => {
  await withRun(async (run) => {
    await writeCheckpoint(run, 100, saveState(100));
    // The crash came after the rename of step 200 and before `latest` was replaced.
    const orphan = `${run.checkpointsDir}/step-00000200`;
    await Deno.mkdir(orphan);
    await saveState(200)(orphan);
    assert.equal(await readLatestCheckpointDir(run), `${run.checkpointsDir}/step-00000100`);
  });
});

Deno.test("readLatestCheckpointDir() falls back to the newest complete folder when latest is bad", async () => {
  await withRun(async (run) => {
    assert.equal(await readLatestCheckpointDir(run), undefined);
    await writeCheckpoint(run, 100, saveState(100));
    await writeCheckpoint(run, 200, saveState(200));
    await Deno.writeTextFile(`${run.checkpointsDir}/latest`, "../../etc\n");
    assert.equal(await readLatestCheckpointDir(run), `${run.checkpointsDir}/step-00000200`);
    await Deno.writeTextFile(`${run.checkpointsDir}/latest`, "step-00000999\n");
    assert.equal(await readLatestCheckpointDir(run), `${run.checkpointsDir}/step-00000200`);
  });
});

Deno.test("writeCheckpoint() keeps the newest `keep` checkpoints", async () => {
  await withRun(async (run) => {
    for (const step of [100, 200, 300, 400]) await writeCheckpoint(run, step, saveState(step));
    assert.deepEqual(await entries(run.checkpointsDir), [
      "latest",
      "step-00000300",
      "step-00000400",
    ]);
    await writeCheckpoint(run, 500, saveState(500), { keep: 1 });
    assert.deepEqual(await entries(run.checkpointsDir), ["latest", "step-00000500"]);
    await assert.rejects(() => writeCheckpoint(run, 600, saveState(600), { keep: 0 }), RangeError);
  });
});

Deno.test("writeCheckpoint() drops checkpoints of an abandoned later timeline after a resume", async () => {
  await withRun(async (run) => {
    for (const step of [100, 200, 300]) {
      await writeCheckpoint(run, step, saveState(step), { keep: 5 });
    }
    // Resumed from step 100 (say step 200/300 were judged bad) and checkpointed at 150.
    await writeCheckpoint(run, 150, saveState(150), { keep: 5 });
    assert.deepEqual(await entries(run.checkpointsDir), [
      "latest",
      "step-00000100",
      "step-00000150",
    ]);
    assert.equal(await readLatestCheckpointDir(run), `${run.checkpointsDir}/step-00000150`);
  });
});

Deno.test("writeCheckpoint() replaces a checkpoint of the same step", async () => {
  await withRun(async (run) => {
    await writeCheckpoint(run, 200, saveState(200));
    const dir = await writeCheckpoint(run, 200, async (d) => {
      await saveState(200)(d);
      await Deno.writeTextFile(`${d}/extra.txt`, "second");
    });
    assert.equal(await Deno.readTextFile(`${dir}/extra.txt`), "second");
    assert.deepEqual(await entries(run.checkpointsDir), ["latest", "step-00000200"]);
  });
});

Deno.test("writeCheckpoint() accepts nested folders from the writer", async () => {
  await withRun(async (run) => {
    const dir = await writeCheckpoint(run, 1, async (d) => {
      await Deno.mkdir(`${d}/optimizer`);
      await Deno.writeTextFile(`${d}/optimizer/m.bin`, "m");
    });
    assert.equal(await Deno.readTextFile(`${dir}/optimizer/m.bin`), "m");
  });
});

Deno.test("checkpointName() and checkpointStep() round-trip and reject bad input", () => {
  for (const step of [0, 1, 200, 99999999, 123456789]) {
    assert.equal(checkpointStep(`runs/x/checkpoints/${checkpointName(step)}`), step);
  }
  assert.ok(checkpointName(99) < checkpointName(100), "names sort by step");
  assert.throws(() => checkpointName(-1), RangeError);
  assert.throws(() => checkpointName(1.5), RangeError);
  assert.throws(() => checkpointStep("runs/x/checkpoints/step-00000200.tmp"), SyntaxError);
});

Deno.test("writeCheckpoint() survives a real process exit in the middle of a checkpoint", async () => {
  await withRun(async (run) => {
    // Arrange: a good checkpoint at step 100.
    await writeCheckpoint(run, 100, saveState(100));
    // Act: a child process starts checkpoint 200 and exits hard after the first file.
    const module = new URL("../../train/run_folder.ts", import.meta.url).href;
    const script = `
      import { openRunFolder, writeCheckpoint } from ${JSON.stringify(module)};
      const run = await openRunFolder(${JSON.stringify(run.dir)});
      await writeCheckpoint(run, 200, async (dir) => {
        await Deno.writeFile(dir + "/weights.bin", new Uint8Array(4096).fill(200));
        Deno.exit(3);
      });`;
    await writeRunConfig(run, { task: "rte" });
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(child.code, 3, new TextDecoder().decode(child.stderr));
    // Assert: the previous checkpoint is still the latest and whole; the debris is only .tmp.
    const latest = await readLatestCheckpointDir(run);
    assert.equal(latest, `${run.checkpointsDir}/step-00000100`);
    const state = await readState(latest ?? "");
    assert.equal(state.step, 100);
    assert.ok(state.weights.every((b) => b === 100));
    assert.deepEqual(await entries(run.checkpointsDir), [
      "latest",
      "step-00000100",
      "step-00000200.tmp",
    ]);
  });
});
