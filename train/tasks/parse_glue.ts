/**
 * In-memory GLUE parsers: original GLUE TSV text, Hugging Face JSONL text and Hugging Face
 * parquet bytes. `readGlue` picks a file and calls these.
 *
 * @module
 */

import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { DataFormatError } from "./data_format_error.ts";
import {
  type GlueSplit,
  type GlueTaskSpec,
  isGlueTestSplit,
  resolveGlueSplit,
  resolveGlueTask,
} from "./glue_tasks.ts";

/**
 * One GLUE example, in the shape featurisation consumes.
 * `label` is the class index (see `GLUE_TASKS[task].labels`) or the STS-B score; it is absent
 * for unlabeled test rows. `idx` is the 0-based data-row ordinal in its file (the Hugging Face
 * `idx`), counted before any bad row is skipped.
 *
 * @example A single-sentence SST-2 row
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueExample } from "./parse_glue.ts";
 * import { parseGlueTsv } from "./parse_glue.ts";
 *
 * const [example]: GlueExample[] = parseGlueTsv("sentence\tlabel\ngood .\t1\n", "sst2", "train").examples;
 * assert.deepEqual(example, { textA: "good .", label: 1, idx: 0 });
 * ```
 */
export interface GlueExample {
  /** First (or only) sentence. Kept verbatim, trailing spaces included. */
  readonly textA: string;
  /** Second sentence of a sentence-pair task. */
  readonly textB?: string;
  /** Class index or STS-B score; absent when unlabeled. */
  readonly label?: number;
  /** 0-based row ordinal (the Hugging Face `idx`). */
  readonly idx?: number;
}

/**
 * A row dropped under `skipBadRows`.
 *
 * @example An unknown label on line 2
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SkippedRow } from "./parse_glue.ts";
 * import { parseGlueTsv } from "./parse_glue.ts";
 *
 * const tsv = "sentence\tlabel\nok .\tmaybe\nfine .\t1\n";
 * const [row]: SkippedRow[] = parseGlueTsv(tsv, "sst2", "train", { skipBadRows: true }).skipped;
 * assert.equal(row?.line, 2);
 * assert.ok(row?.reason.includes("maybe"));
 * ```
 */
export interface SkippedRow {
  /** 1-based physical line (TSV/JSONL) or row (parquet). */
  readonly line: number;
  /** The problem, as it would have appeared in the error. */
  readonly reason: string;
}

/**
 * Options of the GLUE readers.
 *
 * @example The source name appears in errors
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueParseOptions } from "./parse_glue.ts";
 * import { parseGlueTsv } from "./parse_glue.ts";
 *
 * const options: GlueParseOptions = { source: "SST-2/train.tsv" };
 * assert.throws(() => parseGlueTsv("sentence\tlabel\nok .\tmaybe\n", "sst2", "train", options),
 *   /SST-2\/train\.tsv line 2/);
 * ```
 */
export interface GlueParseOptions {
  /** Name of the source used in error messages (a file path). Default `"<input>"`. */
  readonly source?: string;
  /**
   * Skip malformed rows instead of throwing; they are reported in `skipped`. Whole-file
   * problems (missing header column, undecodable file) still throw. Default `false`.
   */
  readonly skipBadRows?: boolean;
}

/**
 * Result of a parse: the examples and the rows skipped (always empty without `skipBadRows`).
 *
 * @example Nothing skipped by default
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueParseResult } from "./parse_glue.ts";
 * import { parseGlueJsonl } from "./parse_glue.ts";
 *
 * const result: GlueParseResult = parseGlueJsonl('{"sentence":"good .","label":1,"idx":0}\n', "sst2", "train");
 * assert.equal(result.examples.length, 1);
 * assert.deepEqual(result.skipped, []);
 * ```
 */
export interface GlueParseResult {
  /** Examples in file order. */
  readonly examples: GlueExample[];
  /** Rows skipped under `skipBadRows`, in file order. */
  readonly skipped: SkippedRow[];
}

class Collector {
  readonly examples: GlueExample[] = [];
  readonly skipped: SkippedRow[] = [];
  readonly #source: string;
  readonly #skip: boolean;
  readonly #unit: "line" | "row";

  constructor(source: string, skip: boolean, unit: "line" | "row") {
    this.#source = source;
    this.#skip = skip;
    this.#unit = unit;
  }

  bad(line: number, reason: string): void {
    if (!this.#skip) throw new DataFormatError(this.#source, line, reason, { unit: this.#unit });
    this.skipped.push({ line, reason });
  }

  result(): GlueParseResult {
    return { examples: this.examples, skipped: this.skipped };
  }
}

function quote(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a TSV label string; returns the label or a reason string. */
function parseTsvLabel(task: GlueTaskSpec, raw: string): number | { reason: string } {
  if (task.kind === "regression") {
    const value = DECIMAL.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value)) {
      return { reason: `score must be a decimal number: current value is ${quote(raw)}` };
    }
    return value;
  }
  const index = task.labels.indexOf(raw);
  if (index < 0) {
    return {
      reason: `label must be one of ${task.labels.join(", ")}: current value is ${quote(raw)}`,
    };
  }
  return index;
}

/**
 * Restores a float32 value to the shortest decimal that rounds to it (Hugging Face stores the
 * STS-B `label` as float32, so `2.4` arrives from parquet as `2.4000000953674316`). JSONL written
 * by `Dataset.to_json` goes through pandas' `to_json`, which rounds to 10 decimal places
 * (`double_precision=10`), so the same label arrives as `2.4000000954`: a value within that
 * rounding (5e-11) of a float32 is taken to be that float32. Any other value is returned
 * unchanged.
 */
function restoreFloat32(value: number): number {
  const f32 = Math.fround(value);
  if (f32 !== value && !(Math.abs(f32 - value) <= 5e-11 + 4 * Number.EPSILON * Math.abs(value))) {
    return value;
  }
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f32.toPrecision(digits));
    if (Math.fround(candidate) === f32) return candidate;
  }
  return f32;
}

/** Validates a label read from a Hugging Face export; returns it, undefined, or a reason. */
function parseHfLabel(
  task: GlueTaskSpec,
  raw: unknown,
  labelled: boolean,
): number | undefined | { reason: string } {
  const value = typeof raw === "bigint" ? Number(raw) : raw;
  if (value === undefined || value === null || value === -1) {
    if (!labelled) return undefined;
    return { reason: `label must be present in a labeled split: current value is ${quote(raw)}` };
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return { reason: `label must be a finite number: current value is ${quote(raw)}` };
  }
  if (task.kind === "regression") return restoreFloat32(value);
  if (!Number.isInteger(value) || value < 0 || value >= task.labels.length) {
    return {
      reason: `label must be an integer class index in [0, ${
        task.labels.length - 1
      }] (or -1 for unlabeled): current value is ${quote(raw)}`,
    };
  }
  return value;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function splitLines(text: string): string[] {
  const lines = stripBom(text).split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line);
}

function resolveTaskSplit(task: string, split: string): [GlueTaskSpec, GlueSplit] {
  const spec = resolveGlueTask(task);
  return [spec, resolveGlueSplit(spec, split)];
}

/**
 * Parses one file of the original GLUE distribution (TSV, quoting off: `"` is literal text).
 * CoLA train/dev are header-less (4 fields: source, label, mark, sentence); every other file has
 * a header, read by column name, and every row must have as many fields as the header. A UTF-8
 * BOM and CRLF line ends are accepted. Labels are mapped as GLUE/Hugging Face define them
 * (`entailment` → 0, `not_entailment` → 1; MNLI `entailment`/`neutral`/`contradiction` →
 * 0/1/2); STS-B scores are parsed as decimals. Test files need no label column.
 *
 * @param text The file contents.
 * @param task Task name (`"rte"`, `"SST-2"`, …).
 * @param split Split name (`"train"`, `"dev"`, `"test"`, `"dev_matched"`, …).
 * @param options `source` (for messages) and `skipBadRows`.
 * @returns The examples and the skipped rows.
 * @throws {DataFormatError} For a malformed row (unless skipped) or a missing header column.
 *
 * @example Two RTE rows, one with a literal quote
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGlueTsv } from "./parse_glue.ts";
 *
 * const tsv = 'index\tsentence1\tsentence2\tlabel\n0\tHe said "hi.\tHe spoke.\tentailment\n' +
 *   "1\tA cat.\tA dog.\tnot_entailment\n";
 * const { examples } = parseGlueTsv(tsv, "RTE", "dev");
 * assert.deepEqual(examples[0], { textA: 'He said "hi.', textB: "He spoke.", label: 0, idx: 0 });
 * assert.equal(examples[1]?.label, 1);
 * ```
 */
export function parseGlueTsv(
  text: string,
  task: string,
  split: string,
  options: GlueParseOptions = {},
): GlueParseResult {
  const [spec, canonical] = resolveTaskSplit(task, split);
  const source = options.source ?? "<input>";
  const out = new Collector(source, options.skipBadRows ?? false, "line");
  const lines = splitLines(text);
  const isTest = isGlueTestSplit(canonical);
  const layout = isTest ? spec.tsvTest : spec.tsv;

  let fields: number;
  let colA: number;
  let colB: number | undefined;
  let colLabel: number | undefined;
  let first: number;
  if (layout.header) {
    const headerLine = lines[0];
    if (headerLine === undefined) {
      throw new DataFormatError(
        source,
        1,
        `the file must start with a header line: current value is an empty file`,
      );
    }
    const header = headerLine.split("\t");
    const find = (name: string | number | undefined, required: boolean): number | undefined => {
      if (name === undefined) return undefined;
      const index = typeof name === "number" ? name : header.indexOf(name);
      if (index < 0 && required) {
        throw new DataFormatError(
          source,
          1,
          `the header must have a column ${quote(name)}: current value is ${
            quote(header.join("\t"))
          }`,
        );
      }
      return index < 0 ? undefined : index;
    };
    fields = header.length;
    colA = find(layout.textA, true) as number;
    colB = find(layout.textB, true);
    // Test files may carry labels anyway (a user's own labeled test set): read them if present.
    colLabel = isTest
      ? (typeof spec.tsv.label === "string" ? find(spec.tsv.label, false) : undefined)
      : find(layout.label, true);
    first = 1;
  } else {
    fields = layout.fields ?? 0;
    colA = layout.textA as number;
    colB = layout.textB as number | undefined;
    colLabel = layout.label as number | undefined;
    first = 0;
  }

  for (let i = first; i < lines.length; i++) {
    const lineNo = i + 1;
    const row = (lines[i] as string).split("\t");
    if (row.length !== fields) {
      out.bad(
        lineNo,
        `a row must have ${fields} tab-separated fields: current value is ${row.length}`,
      );
      continue;
    }
    let label: number | undefined;
    if (colLabel !== undefined) {
      const parsed = parseTsvLabel(spec, row[colLabel] as string);
      if (typeof parsed !== "number") {
        out.bad(lineNo, parsed.reason);
        continue;
      }
      label = parsed;
    }
    const example: { textA: string; textB?: string; label?: number; idx: number } = {
      textA: row[colA] as string,
      idx: i - first,
    };
    if (colB !== undefined) example.textB = row[colB] as string;
    if (label !== undefined) example.label = label;
    out.examples.push(reorder(example));
  }
  return out.result();
}

/** Builds the example with a fixed key order: textA, textB, label, idx. */
function reorder(e: { textA: string; textB?: string; label?: number; idx?: number }): GlueExample {
  const example: { textA: string; textB?: string; label?: number; idx?: number } = {
    textA: e.textA,
  };
  if (e.textB !== undefined) example.textB = e.textB;
  if (e.label !== undefined) example.label = e.label;
  if (e.idx !== undefined) example.idx = e.idx;
  return example;
}

/** Turns one Hugging Face record into an example, or a reason. */
function fromHfRecord(
  spec: GlueTaskSpec,
  record: Record<string, unknown>,
  labelled: boolean,
  ordinal: number,
): GlueExample | { reason: string } {
  const textA = record[spec.hf.textA];
  if (typeof textA !== "string") {
    return {
      reason: `column ${quote(spec.hf.textA)} must be a string: current value is ${quote(textA)}`,
    };
  }
  let textB: string | undefined;
  if (spec.hf.textB !== undefined) {
    const value = record[spec.hf.textB];
    if (typeof value !== "string") {
      return {
        reason: `column ${quote(spec.hf.textB)} must be a string: current value is ${quote(value)}`,
      };
    }
    textB = value;
  }
  const label = parseHfLabel(spec, record["label"], labelled);
  if (typeof label === "object") return label;
  const rawIdx = record["idx"];
  const idx = rawIdx === undefined || rawIdx === null
    ? ordinal
    : typeof rawIdx === "bigint"
    ? Number(rawIdx)
    : rawIdx;
  if (typeof idx !== "number" || !Number.isSafeInteger(idx) || idx < 0) {
    return {
      reason: `column "idx" must be a non-negative integer: current value is ${quote(rawIdx)}`,
    };
  }
  const example: { textA: string; textB?: string; label?: number; idx?: number } = { textA, idx };
  if (textB !== undefined) example.textB = textB;
  if (label !== undefined) example.label = label;
  return reorder(example);
}

/**
 * Parses a Hugging Face `datasets` JSONL export (`Dataset.to_json`): one object per line with
 * the Hub column names (`sentence1`, `sentence2`, `label`, `idx`; MNLI `premise`/`hypothesis`,
 * QQP `question1`/`question2`, QNLI `question`/`sentence`, CoLA/SST-2 `sentence`). `label` is
 * the class index, `-1` (or missing) for unlabeled test rows; float32 STS-B labels are restored
 * to their shortest decimal. Blank lines are errors.
 *
 * @param text The file contents.
 * @param task Task name.
 * @param split Split name.
 * @param options `source` and `skipBadRows`.
 * @returns The examples and the skipped lines.
 * @throws {DataFormatError} For an unparsable line or a bad field (unless skipped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGlueJsonl } from "./parse_glue.ts";
 *
 * const jsonl = '{"sentence1":"A.","sentence2":"B.","label":2.4000000953674316,"idx":0}\n';
 * const { examples } = parseGlueJsonl(jsonl, "stsb", "dev");
 * assert.deepEqual(examples, [{ textA: "A.", textB: "B.", label: 2.4, idx: 0 }]);
 * ```
 */
export function parseGlueJsonl(
  text: string,
  task: string,
  split: string,
  options: GlueParseOptions = {},
): GlueParseResult {
  const [spec, canonical] = resolveTaskSplit(task, split);
  const out = new Collector(options.source ?? "<input>", options.skipBadRows ?? false, "line");
  const labelled = !isGlueTestSplit(canonical);
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      out.bad(
        i + 1,
        `a line must be one JSON object: current value is ${quote(line)} (${
          (error as Error).message
        })`,
      );
      continue;
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      out.bad(i + 1, `a line must be one JSON object: current value is ${quote(line)}`);
      continue;
    }
    const example = fromHfRecord(spec, record as Record<string, unknown>, labelled, i);
    if ("reason" in example) out.bad(i + 1, example.reason);
    else out.examples.push(example);
  }
  return out.result();
}

/**
 * Parses a Hugging Face `datasets` parquet file (as downloaded from the Hub, e.g.
 * `rte/validation-00000-of-00001.parquet`) with the pure-JS `hyparquet` reader. Same columns
 * and rules as {@linkcode parseGlueJsonl}; a missing column is a whole-file error, and `row`
 * numbers in messages are 1-based.
 *
 * @param bytes The file contents.
 * @param task Task name.
 * @param split Split name.
 * @param options `source` and `skipBadRows`.
 * @returns The examples and the skipped rows.
 * @throws {DataFormatError} For an unreadable file, a missing column or a bad row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parquetWriteBuffer } from "hyparquet-writer";
 * import { parseGlueParquet } from "./parse_glue.ts";
 *
 * const bytes = parquetWriteBuffer({
 *   columnData: [
 *     { name: "sentence", data: ["good .", "bad ."], type: "STRING" },
 *     { name: "label", data: [1n, 0n], type: "INT64" },
 *     { name: "idx", data: [0, 1], type: "INT32" },
 *   ],
 * });
 * const { examples } = await parseGlueParquet(bytes, "sst2", "train");
 * assert.deepEqual(examples[1], { textA: "bad .", label: 0, idx: 1 });
 * ```
 */
export async function parseGlueParquet(
  bytes: ArrayBuffer | Uint8Array,
  task: string,
  split: string,
  options: GlueParseOptions = {},
): Promise<GlueParseResult> {
  const [spec, canonical] = resolveTaskSplit(task, split);
  const source = options.source ?? "<input>";
  const out = new Collector(source, options.skipBadRows ?? false, "row");
  const labelled = !isGlueTestSplit(canonical);
  const buffer = bytes instanceof Uint8Array
    ? (bytes.buffer as ArrayBuffer).slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    : bytes;
  let columns: string[];
  let rows: Record<string, unknown>[];
  try {
    const metadata = parquetMetadata(buffer);
    columns = metadata.schema.slice(1).map((element) => element.name);
    rows = await parquetReadObjects({ file: buffer }) as Record<string, unknown>[];
  } catch (error) {
    throw new DataFormatError(
      source,
      0,
      `the file must be a readable parquet file: current error is ${(error as Error).message}`,
      { unit: "row", cause: error },
    );
  }
  const required = [spec.hf.textA, ...(spec.hf.textB === undefined ? [] : [spec.hf.textB])];
  if (labelled) required.push("label");
  for (const name of required) {
    if (!columns.includes(name)) {
      throw new DataFormatError(
        source,
        0,
        `the parquet schema must have a column ${quote(name)}: current columns are ${
          columns.join(", ")
        }`,
        { unit: "row" },
      );
    }
  }
  for (let i = 0; i < rows.length; i++) {
    const example = fromHfRecord(spec, rows[i] as Record<string, unknown>, labelled, i);
    if ("reason" in example) out.bad(i + 1, example.reason);
    else out.examples.push(example);
  }
  return out.result();
}
