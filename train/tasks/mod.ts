/**
 * GLUE and SQuAD 2.0 readers: the GLUE task table, original GLUE TSV files, Hugging Face
 * parquet/JSONL exports, and the official SQuAD 2.0 JSON.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { GLUE_TASKS, parseGlueTsv } from "./mod.ts";
 *
 * const tsv = "index\tquestion\tsentence\tlabel\n0\tWho?\tHe did.\tnot_entailment\n";
 * const { examples } = parseGlueTsv(tsv, "qnli", "dev");
 * assert.equal(examples[0]?.label, GLUE_TASKS.qnli.labels.indexOf("not_entailment"));
 * ```
 *
 * @module
 */

export * from "./glue_tasks.ts";
export * from "./data_format_error.ts";
export * from "./parse_glue.ts";
export * from "./read_glue.ts";
export * from "./read_squad2.ts";
