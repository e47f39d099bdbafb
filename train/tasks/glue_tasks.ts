/**
 * The GLUE task table: names, label maps, file columns (original GLUE TSV and Hugging Face
 * `datasets` exports), metrics, official split sizes and the paper's maximum sequence length.
 *
 * @module
 */

/**
 * Canonical (lower-case, Hugging Face) name of a GLUE task.
 *
 * @example The folder name `SST-2` resolves to `sst2`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueTaskName } from "./glue_tasks.ts";
 * import { resolveGlueTask } from "./glue_tasks.ts";
 *
 * const name: GlueTaskName = resolveGlueTask("SST-2").name;
 * assert.equal(name, "sst2");
 * ```
 */
export type GlueTaskName = "cola" | "sst2" | "mrpc" | "stsb" | "qqp" | "mnli" | "qnli" | "rte";

/**
 * Canonical split name, in the original GLUE file naming (`dev.tsv`, `dev_matched.tsv`, …).
 * `validation*` (the Hugging Face names) are accepted as aliases by {@linkcode resolveGlueSplit}.
 *
 * @example The Hub name `validation` is the GLUE split `dev`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueSplit } from "./glue_tasks.ts";
 * import { hfSplitName, resolveGlueSplit, resolveGlueTask } from "./glue_tasks.ts";
 *
 * const split: GlueSplit = resolveGlueSplit(resolveGlueTask("rte"), "validation");
 * assert.equal(split, "dev");
 * assert.equal(hfSplitName(split), "validation");
 * ```
 */
export type GlueSplit =
  | "train"
  | "dev"
  | "test"
  | "dev_matched"
  | "dev_mismatched"
  | "test_matched"
  | "test_mismatched";

/**
 * Name of a figure computed by `glueMetrics` (the keys of the golden files).
 *
 * @example CoLA's main figure
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueMetricName } from "./glue_tasks.ts";
 * import { GLUE_TASKS } from "./glue_tasks.ts";
 *
 * const main: GlueMetricName = GLUE_TASKS.cola.main;
 * assert.equal(main, "matthews_corrcoef");
 * assert.ok(GLUE_TASKS.cola.metrics.includes(main));
 * ```
 */
export type GlueMetricName =
  | "accuracy"
  | "f1"
  | "accuracy_f1_mean"
  | "matthews_corrcoef"
  | "pearson"
  | "spearman"
  | "pearson_spearman_mean";

/**
 * Where a text or label column sits in an original GLUE TSV file.
 *
 * @example CoLA train/dev files have no header
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueTsvLayout } from "./glue_tasks.ts";
 * import { GLUE_TASKS } from "./glue_tasks.ts";
 *
 * const layout: GlueTsvLayout = GLUE_TASKS.cola.tsv;
 * assert.deepEqual(layout, { header: false, textA: 3, label: 1, fields: 4 });
 * ```
 */
export interface GlueTsvLayout {
  /** `true` when the first line is a header (every file except CoLA train/dev). */
  readonly header: boolean;
  /**
   * Column of the first text: a header name, or a 0-based index when `header` is `false`.
   */
  readonly textA: string | number;
  /** Column of the second text, if the task is a sentence pair. */
  readonly textB?: string | number;
  /** Column of the label; absent in unlabeled test files. */
  readonly label?: string | number;
  /** Number of fields per row, only checked for header-less files. */
  readonly fields?: number;
}

/**
 * One row of the GLUE task table.
 *
 * @example STS-B is the regression task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueTaskSpec } from "./glue_tasks.ts";
 * import { resolveGlueTask } from "./glue_tasks.ts";
 *
 * const spec: GlueTaskSpec = resolveGlueTask("STS-B");
 * assert.equal(spec.kind, "regression");
 * assert.deepEqual(spec.labels, []);
 * assert.equal(spec.gluePrefix, "STS-B");
 * ```
 */
export interface GlueTaskSpec {
  /** Canonical name, e.g. `"sst2"`. */
  readonly name: GlueTaskName;
  /** Folder name in the original GLUE download, e.g. `"SST-2"`. */
  readonly gluePrefix: string;
  /** `"classification"` (integer label index) or `"regression"` (STS-B float score). */
  readonly kind: "classification" | "regression";
  /**
   * Label strings of the TSV files in class-index order (`labels[i]` is class `i`), or `[]`
   * for STS-B. Order as the Hugging Face `glue` dataset's `ClassLabel` (so TSV and Hub files
   * agree): RTE/QNLI `entailment` → 0, `not_entailment` → 1; MNLI `entailment` → 0,
   * `neutral` → 1, `contradiction` → 2; binary tasks `"0"` → 0, `"1"` → 1.
   */
  readonly labels: readonly string[];
  /** Layout of train/dev TSV files. */
  readonly tsv: GlueTsvLayout;
  /** Layout of unlabeled test TSV files. */
  readonly tsvTest: GlueTsvLayout;
  /** Hugging Face `datasets` column names (parquet and JSONL exports). */
  readonly hf: { readonly textA: string; readonly textB?: string };
  /** Figures `glueMetrics` reports for the task, in output order. */
  readonly metrics: readonly GlueMetricName[];
  /** The paper's main metric (docs/METHOD.md §17). */
  readonly main: GlueMetricName;
  /** The GLUE leaderboard's per-task figure (MRPC/QQP: mean of accuracy and F1, …). */
  readonly glueScore: GlueMetricName;
  /** Official number of examples per split. */
  readonly sizes: Readonly<Partial<Record<GlueSplit, number>>>;
  /** Maximum sequence length from docs/METHOD.md §16. */
  readonly maxLength: number;
}

const BINARY: readonly string[] = Object.freeze(["0", "1"]);
const NLI2: readonly string[] = Object.freeze(["entailment", "not_entailment"]);

function spec(s: GlueTaskSpec): GlueTaskSpec {
  return Object.freeze(s);
}

/**
 * The GLUE task table, keyed by canonical name.
 *
 * @example Label map, main metric and maximum length of RTE
 * ```ts
 * import assert from "node:assert/strict";
 * import { GLUE_TASKS } from "./glue_tasks.ts";
 *
 * assert.equal(GLUE_TASKS.rte.labels.indexOf("not_entailment"), 1);
 * assert.equal(GLUE_TASKS.rte.main, "accuracy");
 * assert.equal(GLUE_TASKS.mrpc.glueScore, "accuracy_f1_mean");
 * assert.equal(GLUE_TASKS.rte.maxLength, 320);
 * assert.deepEqual(GLUE_TASKS.mnli.hf, { textA: "premise", textB: "hypothesis" });
 * ```
 */
export const GLUE_TASKS: Readonly<Record<GlueTaskName, GlueTaskSpec>> = Object.freeze({
  cola: spec({
    name: "cola",
    gluePrefix: "CoLA",
    kind: "classification",
    labels: BINARY,
    // Header-less: source, label, original mark, sentence.
    tsv: { header: false, textA: 3, label: 1, fields: 4 },
    tsvTest: { header: true, textA: "sentence" },
    hf: { textA: "sentence" },
    metrics: ["accuracy", "matthews_corrcoef"],
    main: "matthews_corrcoef",
    glueScore: "matthews_corrcoef",
    sizes: { train: 8551, dev: 1043, test: 1063 },
    maxLength: 64,
  }),
  sst2: spec({
    name: "sst2",
    gluePrefix: "SST-2",
    kind: "classification",
    labels: BINARY,
    tsv: { header: true, textA: "sentence", label: "label" },
    tsvTest: { header: true, textA: "sentence" },
    hf: { textA: "sentence" },
    metrics: ["accuracy"],
    main: "accuracy",
    glueScore: "accuracy",
    sizes: { train: 67349, dev: 872, test: 1821 },
    maxLength: 128,
  }),
  mrpc: spec({
    name: "mrpc",
    gluePrefix: "MRPC",
    kind: "classification",
    labels: BINARY,
    tsv: { header: true, textA: "#1 String", textB: "#2 String", label: "Quality" },
    tsvTest: { header: true, textA: "#1 String", textB: "#2 String" },
    hf: { textA: "sentence1", textB: "sentence2" },
    metrics: ["accuracy", "f1", "accuracy_f1_mean"],
    main: "accuracy",
    glueScore: "accuracy_f1_mean",
    sizes: { train: 3668, dev: 408, test: 1725 },
    maxLength: 320,
  }),
  stsb: spec({
    name: "stsb",
    gluePrefix: "STS-B",
    kind: "regression",
    labels: Object.freeze([]),
    tsv: { header: true, textA: "sentence1", textB: "sentence2", label: "score" },
    tsvTest: { header: true, textA: "sentence1", textB: "sentence2" },
    hf: { textA: "sentence1", textB: "sentence2" },
    metrics: ["pearson", "spearman", "pearson_spearman_mean"],
    main: "pearson",
    glueScore: "pearson_spearman_mean",
    sizes: { train: 5749, dev: 1500, test: 1379 },
    maxLength: 128,
  }),
  qqp: spec({
    name: "qqp",
    gluePrefix: "QQP",
    kind: "classification",
    labels: BINARY,
    tsv: { header: true, textA: "question1", textB: "question2", label: "is_duplicate" },
    tsvTest: { header: true, textA: "question1", textB: "question2" },
    hf: { textA: "question1", textB: "question2" },
    metrics: ["accuracy", "f1", "accuracy_f1_mean"],
    main: "accuracy",
    glueScore: "accuracy_f1_mean",
    sizes: { train: 363846, dev: 40430, test: 390965 },
    maxLength: 320,
  }),
  mnli: spec({
    name: "mnli",
    gluePrefix: "MNLI",
    kind: "classification",
    labels: Object.freeze(["entailment", "neutral", "contradiction"]),
    tsv: { header: true, textA: "sentence1", textB: "sentence2", label: "gold_label" },
    tsvTest: { header: true, textA: "sentence1", textB: "sentence2" },
    hf: { textA: "premise", textB: "hypothesis" },
    metrics: ["accuracy"],
    main: "accuracy",
    glueScore: "accuracy",
    sizes: {
      train: 392702,
      dev_matched: 9815,
      dev_mismatched: 9832,
      test_matched: 9796,
      test_mismatched: 9847,
    },
    maxLength: 256,
  }),
  qnli: spec({
    name: "qnli",
    gluePrefix: "QNLI",
    kind: "classification",
    labels: NLI2,
    tsv: { header: true, textA: "question", textB: "sentence", label: "label" },
    tsvTest: { header: true, textA: "question", textB: "sentence" },
    hf: { textA: "question", textB: "sentence" },
    metrics: ["accuracy"],
    main: "accuracy",
    glueScore: "accuracy",
    sizes: { train: 104743, dev: 5463, test: 5463 },
    maxLength: 512,
  }),
  rte: spec({
    name: "rte",
    gluePrefix: "RTE",
    kind: "classification",
    labels: NLI2,
    tsv: { header: true, textA: "sentence1", textB: "sentence2", label: "label" },
    tsvTest: { header: true, textA: "sentence1", textB: "sentence2" },
    hf: { textA: "sentence1", textB: "sentence2" },
    metrics: ["accuracy"],
    main: "accuracy",
    glueScore: "accuracy",
    sizes: { train: 2490, dev: 277, test: 3000 },
    maxLength: 320,
  }),
});

/**
 * SQuAD 2.0 facts used beside the GLUE table: official sizes and the paper's max length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SQUAD2_TASK } from "./glue_tasks.ts";
 *
 * assert.equal(SQUAD2_TASK.sizes.dev, 11873);
 * assert.equal(SQUAD2_TASK.maxLength, 384);
 * ```
 */
export const SQUAD2_TASK: {
  readonly name: "squad2";
  readonly sizes: { readonly train: number; readonly dev: number };
  readonly maxLength: number;
} = Object.freeze({
  name: "squad2",
  sizes: Object.freeze({ train: 130319, dev: 11873 }),
  maxLength: 384,
});

const TASK_ALIASES: Readonly<Record<string, GlueTaskName>> = {
  cola: "cola",
  sst2: "sst2",
  mrpc: "mrpc",
  stsb: "stsb",
  qqp: "qqp",
  mnli: "mnli",
  qnli: "qnli",
  rte: "rte",
};

/**
 * Resolves a task name to its table row. Case-insensitive; `-` and `_` are ignored, so
 * `"SST-2"`, `"sst2"`, `"STS-B"` and `"stsb"` all work.
 *
 * @param task A task name such as `"RTE"`, `"SST-2"` or `"sts-b"`.
 * @returns The frozen task row.
 * @throws {RangeError} For a name that is not one of the eight GLUE tasks handled here.
 *
 * @example Resolve the GLUE folder name
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveGlueTask } from "./glue_tasks.ts";
 *
 * const sts = resolveGlueTask("STS-B");
 * assert.equal(sts.name, "stsb");
 * assert.equal(sts.main, "pearson");
 * assert.deepEqual(resolveGlueTask("rte").labels, ["entailment", "not_entailment"]);
 * ```
 */
export function resolveGlueTask(task: string): GlueTaskSpec {
  if (typeof task !== "string") {
    throw new TypeError(
      `Cannot resolve GLUE task as task must be a string: current value is ${String(task)}`,
    );
  }
  const key = task.toLowerCase().replace(/[-_\s]/g, "");
  const name = Object.hasOwn(TASK_ALIASES, key) ? TASK_ALIASES[key] : undefined;
  if (name === undefined) {
    throw new RangeError(
      `Cannot resolve GLUE task as task must be one of ${
        Object.keys(GLUE_TASKS).join(", ")
      }: current value is "${task}"`,
    );
  }
  return GLUE_TASKS[name];
}

const SPLIT_ALIASES: Readonly<Record<string, GlueSplit>> = {
  train: "train",
  dev: "dev",
  validation: "dev",
  test: "test",
  dev_matched: "dev_matched",
  validation_matched: "dev_matched",
  dev_mismatched: "dev_mismatched",
  validation_mismatched: "dev_mismatched",
  test_matched: "test_matched",
  test_mismatched: "test_mismatched",
};

/**
 * Resolves a split name for a task. Accepts the GLUE names (`dev`, `dev_matched`, …) and the
 * Hugging Face ones (`validation`, `validation_matched`, …), case-insensitively; MNLI has no
 * plain `dev`/`test`, every other task has no `*_matched`.
 *
 * @param task The resolved task (from {@linkcode resolveGlueTask}).
 * @param split The split name.
 * @returns The canonical GLUE split name.
 * @throws {RangeError} For a split the task does not have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveGlueSplit, resolveGlueTask } from "./glue_tasks.ts";
 *
 * assert.equal(resolveGlueSplit(resolveGlueTask("mnli"), "validation_matched"), "dev_matched");
 * assert.throws(() => resolveGlueSplit(resolveGlueTask("rte"), "dev_matched"), RangeError);
 * ```
 */
export function resolveGlueSplit(task: GlueTaskSpec, split: string): GlueSplit {
  const key = String(split).toLowerCase().replace(/-/g, "_");
  const canonical = Object.hasOwn(SPLIT_ALIASES, key) ? SPLIT_ALIASES[key] : undefined;
  if (canonical === undefined || task.sizes[canonical] === undefined) {
    throw new RangeError(
      `Cannot resolve ${task.gluePrefix} split as split must be one of ${
        Object.keys(task.sizes).join(", ")
      }: current value is "${split}"`,
    );
  }
  return canonical;
}

/**
 * The Hugging Face `datasets` split name for a GLUE split (`dev` → `validation`,
 * `dev_matched` → `validation_matched`, others unchanged).
 *
 * @param split A canonical GLUE split.
 * @returns The Hugging Face split name used in Hub file names (`validation-00000-of-00001.parquet`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hfSplitName } from "./glue_tasks.ts";
 *
 * assert.equal(hfSplitName("dev_mismatched"), "validation_mismatched");
 * assert.equal(hfSplitName("train"), "train");
 * ```
 */
export function hfSplitName(split: GlueSplit): string {
  return split.startsWith("dev") ? split.replace(/^dev/, "validation") : split;
}

/**
 * Whether a split is an unlabeled GLUE test split (`test`, `test_matched`, `test_mismatched`).
 *
 * @param split A canonical GLUE split.
 * @returns `true` for test splits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isGlueTestSplit } from "./glue_tasks.ts";
 *
 * assert.equal(isGlueTestSplit("test_matched"), true);
 * assert.equal(isGlueTestSplit("dev"), false);
 * ```
 */
export function isGlueTestSplit(split: GlueSplit): boolean {
  return split.startsWith("test");
}
