import assert from "node:assert/strict";
import { applyPreset, PAPER_ROWS, paperHyperParams, type PaperRow } from "../../train/presets.ts";
import {
  defaultHyperParams,
  TRAIN_METHODS,
  TRAIN_TASKS,
  type TrainMethod,
  type TrainTask,
  validateTrainOptions,
} from "../../train/hyperparams.ts";

const METHOD = new URL("../../docs/METHOD.md", import.meta.url);
const TITLE_TO_TASK: Record<string, TrainTask> = {
  "MNLI": "mnli",
  "SST-2": "sst2",
  "CoLA": "cola",
  "QQP": "qqp",
  "QNLI": "qnli",
  "RTE": "rte",
  "MRPC": "mrpc",
  "STS-B": "stsb",
  "SQuAD 2.0": "squad2",
};

/** §16 (the paper's hyper-parameter tables) of docs/METHOD.md, read in place. */
async function section16(): Promise<string> {
  const text = await Deno.readTextFile(METHOD);
  const start = text.indexOf("## §16 ");
  const end = text.indexOf("## §17 ");
  assert.ok(start >= 0 && end > start, "docs/METHOD.md has sections §16 and §17");
  return text.slice(start, end);
}

/** The cells of every body row of the §16 tables that have `width` columns. */
async function tableRows(width: number): Promise<string[][]> {
  return (await section16()).split("\n")
    .filter((l) => /^\| [A-Z]/.test(l) && !l.startsWith("| task"))
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()))
    .filter((cells) => cells.length === width);
}

Deno.test("PAPER_ROWS matches every row of the docs/METHOD.md §16 table", async () => {
  // Arrange: parse the markdown table of the method document.
  const rows = await tableRows(10);
  assert.equal(rows.length, 9);
  for (const cells of rows) {
    const [title, epochsCell, lr, dr, wd, warmup, alpha, dropout, maxLen, orth] = cells;
    const task = TITLE_TO_TASK[title ?? ""];
    assert.ok(task !== undefined, `unknown task ${title}`);
    // Act
    const row: PaperRow = PAPER_ROWS[task];
    // Assert: each column, with the two documented readings ("default" → 0, "–" → 0).
    assert.equal(row.epochs, Number(/^\d+/.exec(epochsCell ?? "")?.[0]), `${task} epochs`);
    assert.equal(row.batchSize, /batch 16/.test(epochsCell ?? "") ? 16 : 32, `${task} batch`);
    assert.equal(row.lr, Number(lr), `${task} lr`);
    assert.equal(row.deltaRank, Number(dr), `${task} Δr`);
    assert.equal(row.weightDecay, wd === "–" ? 0 : Number(wd), `${task} wd`);
    assert.equal(row.warmup, Number(warmup), `${task} warmup`);
    assert.equal(row.alpha, Number(alpha), `${task} alpha`);
    assert.equal(row.dropout, dropout === "default" ? 0 : Number(dropout), `${task} dropout`);
    assert.equal(row.maxLength, Number(maxLen), `${task} max len`);
    assert.equal(row.orthRegWeight, Number(orth), `${task} orth`);
  }
});

Deno.test("PAPER_ROWS matches the AdaLoRA and IncreLoRA table of docs/METHOD.md §16", async () => {
  const rows = await tableRows(5);
  assert.equal(rows.length, 8);
  for (const [title, tinit, tfinal, deltaT, topH] of rows) {
    const task = TITLE_TO_TASK[title ?? ""];
    assert.ok(task !== undefined, `unknown task ${title}`);
    assert.equal(PAPER_ROWS[task].tinit, Number(tinit), `${task} tinit`);
    assert.equal(PAPER_ROWS[task].tfinal, Number(tfinal), `${task} tfinal`);
    assert.equal(PAPER_ROWS[task].deltaT, Number(deltaT), `${task} deltaT`);
    assert.equal(PAPER_ROWS[task].topH, Number(topH), `${task} topH`);
  }
  assert.equal(PAPER_ROWS.squad2.tinit, undefined);
});

Deno.test("paperHyperParams() sets warm-up = t0 = interval and r_ref 8 for the growing methods", () => {
  for (const task of TRAIN_TASKS) {
    for (const method of ["triadapt", "increlora"] as const) {
      const p = paperHyperParams(task, method);
      assert.equal(p.warmupSteps, PAPER_ROWS[task].warmup);
      assert.equal(p.initWarmup, PAPER_ROWS[task].warmup);
      assert.equal(p.interval, PAPER_ROWS[task].warmup);
      assert.equal(p.refRank, 8);
      assert.equal(p.initRank, 1);
      assert.equal(p.deltaRank, PAPER_ROWS[task].deltaRank);
      assert.equal(p.topH, PAPER_ROWS[task].topH);
    }
  }
});

Deno.test("paperHyperParams() gives AdaLoRA its Table V schedule, rank 12 and β 0.85", () => {
  const p = paperHyperParams("cola", "adalora");
  assert.deepEqual(
    [p.tinit, p.tfinal, p.deltaT, p.adaloraInitRank, p.beta1, p.beta2],
    [800, 3500, 10, 12, 0.85, 0.85],
  );
  assert.equal(p.initWarmup, undefined, "t0 is TriAdaptLoRA's, not AdaLoRA's");
});

Deno.test("paperHyperParams() gives LoRA no orthogonality penalty", () => {
  assert.equal(paperHyperParams("rte", "lora").orthRegWeight, 0);
  assert.equal(paperHyperParams("rte", "triadapt").orthRegWeight, 0.3);
});

Deno.test("applyPreset() lets every explicit flag win over the paper row", () => {
  // Arrange: override every field a preset can set with a distinct valid value.
  const overrides = {
    epochs: 2,
    lr: 3e-5,
    weightDecay: 0.2,
    warmupSteps: 7,
    alpha: 3,
    dropout: 0.05,
    maxLength: 99,
    batchSize: 5,
    refRank: 6,
    deltaRank: 2,
    initWarmup: 11,
    interval: 13,
    initRank: 2,
    orthRegWeight: 0.7,
    topH: 4,
  } as const;
  for (const method of TRAIN_METHODS) {
    // Act
    const merged = applyPreset("paper", "qnli", method, overrides);
    // Assert
    for (const [key, value] of Object.entries(overrides)) {
      assert.equal(merged[key as keyof typeof merged], value, `${method} ${key}`);
    }
  }
});

Deno.test("applyPreset() with every task and method yields options that validate", () => {
  for (const task of TRAIN_TASKS) {
    for (const method of TRAIN_METHODS as readonly TrainMethod[]) {
      const options = {
        ...defaultHyperParams(),
        ...applyPreset("paper", task, method, {}),
        model: "m",
        task,
        data: "d",
        method,
        preset: "paper",
        seeds: [0],
        seed: 0,
        backend: "wasm",
        logEvery: 10,
      };
      assert.doesNotThrow(() => validateTrainOptions(options), `${task} ${method}`);
    }
  }
});

Deno.test("applyPreset() rejects an unknown preset, task or method", () => {
  assert.throws(() => applyPreset("fast" as "paper", "rte", "lora", {}), RangeError);
  assert.throws(() => applyPreset("paper", "wnli" as TrainTask, "lora", {}), RangeError);
  assert.throws(() => applyPreset("paper", "rte", "dora" as TrainMethod, {}), RangeError);
});

Deno.test("applyPreset() does not mutate its overrides and returns a frozen record", () => {
  const overrides = Object.freeze({ lr: 1e-4 });
  const merged = applyPreset("paper", "rte", "triadapt", overrides);
  assert.deepEqual(overrides, { lr: 1e-4 });
  assert.ok(Object.isFrozen(merged));
});
