/**
 * The paper's hyper-parameters (docs/METHOD.md §16, DeBERTaV3-base) as data, and `applyPreset`,
 * which lays the explicit flags over a preset.
 *
 * The "default" dropout of CoLA, RTE and STS-B: the paper prints no number, so we use the
 * reference harness's default, `lora_dropout = 0.0`. That harness is IncreLoRA's
 * `NLU/examples/text-classification/run_glue.py` (`ModelArguments.lora_dropout`,
 * `default=0.`), on which the TriAdaptLoRA code is built; its scripts for CoLA and RTE
 * (`NLU/scripts/rank=8/run_cola.sh`, `run_rte.sh`) pass no `--lora_dropout`, so they ran with 0.
 *
 * SQuAD 2.0: the paper's "–" weight decay is the harness default 0 (`run_debertav3_squadv2.sh`
 * passes no `--weight_decay`), and IncreLoRA's SQuAD script uses `top_h 1`.
 *
 * @module
 */

import type { HyperParams, PresetName, TrainMethod, TrainTask } from "./hyperparams.ts";

/**
 * One row of the paper's table (docs/METHOD.md §16) plus the per-task baseline settings.
 *
 * @example The RTE row
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PaperRow } from "./presets.ts";
 * import { PAPER_ROWS } from "./presets.ts";
 *
 * const rte: PaperRow = PAPER_ROWS.rte;
 * assert.equal(rte.epochs, 50);
 * assert.equal(rte.tinit, 600);
 * assert.equal(rte.topH, 9);
 * ```
 */
export interface PaperRow {
  /** Training epochs. */
  readonly epochs: number;
  /** Peak learning rate. */
  readonly lr: number;
  /** Rank increment Δr. */
  readonly deltaRank: number;
  /** AdamW weight decay. */
  readonly weightDecay: number;
  /** Learning-rate warm-up = initial warm-up t0 = allocation interval. */
  readonly warmup: number;
  /** lora_alpha. */
  readonly alpha: number;
  /** lora_dropout ("default" = 0, see the module doc). */
  readonly dropout: number;
  /** Maximum sequence length. */
  readonly maxLength: number;
  /** Orthogonality penalty weight. */
  readonly orthRegWeight: number;
  /** Batch size (32; SQuAD 2.0: 16). */
  readonly batchSize: number;
  /** AdaLoRA initial warm-up (Table V); absent where the paper gives none. */
  readonly tinit?: number;
  /** AdaLoRA final warm-up (Table V). */
  readonly tfinal?: number;
  /** AdaLoRA mask interval (Table V). */
  readonly deltaT?: number;
  /** IncreLoRA / fixed-k matrices per event. */
  readonly topH: number;
}

/**
 * r_ref of every paper run.
 *
 * @example r_ref = 8
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAPER_REF_RANK } from "./presets.ts";
 *
 * assert.equal(PAPER_REF_RANK, 8);
 * ```
 */
export const PAPER_REF_RANK = 8;

/**
 * AdaLoRA's initial rank and EMA coefficients in the paper (§9).
 *
 * @example Table V's AdaLoRA constants
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAPER_ADALORA } from "./presets.ts";
 *
 * assert.deepEqual({ ...PAPER_ADALORA }, { initRank: 12, beta1: 0.85, beta2: 0.85 });
 * ```
 */
export const PAPER_ADALORA: Readonly<{ initRank: number; beta1: number; beta2: number }> = Object
  .freeze({ initRank: 12, beta1: 0.85, beta2: 0.85 });

/**
 * docs/METHOD.md §16 per task.
 *
 * @example The RTE row
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAPER_ROWS } from "./presets.ts";
 *
 * assert.equal(PAPER_ROWS.rte.epochs, 50);
 * assert.equal(PAPER_ROWS.rte.lr, 1.2e-3);
 * assert.equal(PAPER_ROWS.rte.warmup, 100);
 * ```
 */
export const PAPER_ROWS: Readonly<Record<TrainTask, PaperRow>> = Object.freeze({
  mnli: Object.freeze({
    epochs: 7,
    lr: 5e-4,
    deltaRank: 1,
    weightDecay: 0,
    warmup: 1000,
    alpha: 16,
    dropout: 0,
    maxLength: 256,
    orthRegWeight: 0.1,
    batchSize: 32,
    tinit: 8000,
    tfinal: 50000,
    deltaT: 100,
    topH: 18,
  }),
  sst2: Object.freeze({
    epochs: 24,
    lr: 8e-4,
    deltaRank: 4,
    weightDecay: 0.01,
    warmup: 1000,
    alpha: 16,
    dropout: 0.3,
    maxLength: 128,
    orthRegWeight: 0.1,
    batchSize: 32,
    tinit: 6000,
    tfinal: 22000,
    deltaT: 100,
    topH: 6,
  }),
  cola: Object.freeze({
    epochs: 25,
    lr: 1e-3,
    deltaRank: 4,
    weightDecay: 0,
    warmup: 100,
    alpha: 32,
    dropout: 0,
    maxLength: 64,
    orthRegWeight: 0.1,
    batchSize: 32,
    tinit: 800,
    tfinal: 3500,
    deltaT: 10,
    topH: 3,
  }),
  qqp: Object.freeze({
    epochs: 7,
    lr: 6e-4,
    deltaRank: 4,
    weightDecay: 0.01,
    warmup: 1000,
    alpha: 16,
    dropout: 0,
    maxLength: 320,
    orthRegWeight: 0.1,
    batchSize: 32,
    tinit: 8000,
    tfinal: 25000,
    deltaT: 100,
    topH: 3,
  }),
  qnli: Object.freeze({
    epochs: 5,
    lr: 9e-4,
    deltaRank: 4,
    weightDecay: 0.01,
    warmup: 500,
    alpha: 32,
    dropout: 0,
    maxLength: 512,
    orthRegWeight: 0.1,
    batchSize: 32,
    tinit: 2000,
    tfinal: 8000,
    deltaT: 100,
    topH: 22,
  }),
  rte: Object.freeze({
    epochs: 50,
    lr: 1.2e-3,
    deltaRank: 4,
    weightDecay: 0.01,
    warmup: 100,
    alpha: 32,
    dropout: 0,
    maxLength: 320,
    orthRegWeight: 0.3,
    batchSize: 32,
    tinit: 600,
    tfinal: 1800,
    deltaT: 1,
    topH: 9,
  }),
  mrpc: Object.freeze({
    epochs: 30,
    lr: 1e-3,
    deltaRank: 4,
    weightDecay: 0.01,
    warmup: 100,
    alpha: 32,
    dropout: 0.3,
    maxLength: 320,
    orthRegWeight: 0.1,
    batchSize: 32,
    tinit: 600,
    tfinal: 1800,
    deltaT: 1,
    topH: 10,
  }),
  stsb: Object.freeze({
    epochs: 25,
    lr: 2.2e-3,
    deltaRank: 4,
    weightDecay: 0.1,
    warmup: 100,
    alpha: 32,
    dropout: 0,
    maxLength: 128,
    orthRegWeight: 0.3,
    batchSize: 32,
    tinit: 800,
    tfinal: 2000,
    deltaT: 10,
    topH: 4,
  }),
  squad2: Object.freeze({
    epochs: 14,
    lr: 1e-3,
    deltaRank: 1,
    weightDecay: 0,
    warmup: 1000,
    alpha: 16,
    dropout: 0.1,
    maxLength: 384,
    orthRegWeight: 0.1,
    batchSize: 16,
    topH: 1,
  }),
});

/**
 * The hyper-parameters the paper fixes for one task and method (no explicit flags applied).
 *
 * Every method gets epochs, lr, weight decay, warm-up, α, dropout, max length, batch size and
 * r_ref = 8. TriAdaptLoRA and IncreLoRA add Δr, t0 = interval = warm-up, initial rank 1, the
 * orthogonality weight and top-h (TriAdaptLoRA uses it only with `--threshold fixed`); IncreLoRA
 * also gets β1 = β2 = 0.85. AdaLoRA adds tinit/tfinal/ΔT (Table V, where given), initial rank 12,
 * β1 = β2 = 0.85 and the orthogonality weight. LoRA has no orthogonality penalty (weight 0).
 *
 * @param task The task.
 * @param method The method.
 * @returns The preset's values (a partial `HyperParams`, frozen).
 *
 * @example RTE for AdaLoRA
 * ```ts
 * import assert from "node:assert/strict";
 * import { paperHyperParams } from "./presets.ts";
 *
 * const p = paperHyperParams("rte", "adalora");
 * assert.equal(p.tinit, 600);
 * assert.equal(p.adaloraInitRank, 12);
 * assert.equal(p.lr, 1.2e-3);
 * ```
 */
export function paperHyperParams(task: TrainTask, method: TrainMethod): Partial<HyperParams> {
  const row = PAPER_ROWS[task];
  if (row === undefined) {
    throw new RangeError(
      `Cannot apply the paper preset as the task must be one of ${
        Object.keys(PAPER_ROWS).join(", ")
      }: current value is ${JSON.stringify(task)}`,
    );
  }
  const common: Partial<HyperParams> = {
    epochs: row.epochs,
    lr: row.lr,
    weightDecay: row.weightDecay,
    warmupSteps: row.warmup,
    alpha: row.alpha,
    dropout: row.dropout,
    maxLength: row.maxLength,
    batchSize: row.batchSize,
    refRank: PAPER_REF_RANK,
  };
  const growing: Partial<HyperParams> = {
    deltaRank: row.deltaRank,
    initWarmup: row.warmup,
    interval: row.warmup,
    initRank: 1,
    orthRegWeight: row.orthRegWeight,
    topH: row.topH,
  };
  switch (method) {
    case "triadapt":
      return Object.freeze({ ...common, ...growing });
    case "increlora":
      return Object.freeze({
        ...common,
        ...growing,
        beta1: PAPER_ADALORA.beta1,
        beta2: PAPER_ADALORA.beta2,
      });
    case "adalora": {
      const schedule: Partial<HyperParams> = {};
      if (row.tinit !== undefined) Object.assign(schedule, { tinit: row.tinit });
      if (row.tfinal !== undefined) Object.assign(schedule, { tfinal: row.tfinal });
      if (row.deltaT !== undefined) Object.assign(schedule, { deltaT: row.deltaT });
      return Object.freeze({
        ...common,
        ...schedule,
        orthRegWeight: row.orthRegWeight,
        adaloraInitRank: PAPER_ADALORA.initRank,
        beta1: PAPER_ADALORA.beta1,
        beta2: PAPER_ADALORA.beta2,
      });
    }
    case "lora":
      return Object.freeze({ ...common, orthRegWeight: 0 });
    default:
      throw new RangeError(
        `Cannot apply the paper preset as the method must be triadapt, lora, adalora or increlora: current value is ${
          JSON.stringify(method)
        }`,
      );
  }
}

/**
 * Lays explicit flag values over a preset: every field in `overrides` wins, the preset fills
 * the rest it knows, and fields neither sets are left out (the schema defaults fill them).
 * The `none` preset is empty, so it returns just the overrides.
 *
 * @param preset `paper` (docs/METHOD.md §16) or `none`.
 * @param task The task whose row to use.
 * @param method The method whose settings to use.
 * @param overrides Values given explicitly on the command line.
 * @returns The merged values (a partial `HyperParams`, frozen).
 *
 * @example Explicit flags win
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPreset } from "./presets.ts";
 *
 * const merged = applyPreset("paper", "sst2", "triadapt", { lr: 1e-4 });
 * assert.equal(merged.lr, 1e-4);
 * assert.equal(merged.epochs, 24);
 * assert.equal(merged.dropout, 0.3);
 * assert.deepEqual(applyPreset("none", "sst2", "triadapt", { lr: 1e-4 }), { lr: 1e-4 });
 * ```
 */
export function applyPreset(
  preset: PresetName,
  task: TrainTask,
  method: TrainMethod,
  overrides: Partial<HyperParams>,
): Partial<HyperParams> {
  if (preset === "none") return Object.freeze({ ...overrides });
  if (preset !== "paper") {
    throw new RangeError(
      `Cannot apply a preset as it must be paper or none: current value is ${
        JSON.stringify(preset)
      }`,
    );
  }
  const merged: Record<string, unknown> = { ...paperHyperParams(task, method) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[key] = value;
  }
  return Object.freeze(merged) as Partial<HyperParams>;
}
