/**
 * The error the data readers throw for malformed input.
 *
 * @module
 */

/**
 * Whether a position counts physical lines (TSV, JSONL) or data rows (parquet).
 *
 * @example A parquet row in the message
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DataPositionUnit } from "./data_format_error.ts";
 * import { DataFormatError } from "./data_format_error.ts";
 *
 * const unit: DataPositionUnit = "row";
 * const error = new DataFormatError("train.parquet", 5, "label must be 0 or 1", { unit });
 * assert.equal(error.unit, "row");
 * assert.equal(error.message, "Cannot read train.parquet row 5 as label must be 0 or 1");
 * ```
 */
export type DataPositionUnit = "line" | "row" | "path";

/**
 * A data file is malformed at a known place: a row with the wrong number of fields, an unknown
 * label, a non-numeric score, a missing column or key. The message names the file, the line
 * (TSV/JSONL, 1-based physical line), the row (parquet, 1-based) or the JSON path (SQuAD), and
 * the problem, e.g. `Cannot read /data/RTE/dev.tsv line 7 as label must be one of entailment,
 * not_entailment: current value is "maybe"`.
 *
 * @example Catch one and report where it happened
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataFormatError } from "./data_format_error.ts";
 *
 * const error = new DataFormatError("dev.tsv", 3, "a row must have 4 fields: current value is 2");
 * assert.ok(error instanceof SyntaxError);
 * assert.equal(error.line, 3);
 * assert.equal(error.message, "Cannot read dev.tsv line 3 as a row must have 4 fields: current value is 2");
 * ```
 */
export class DataFormatError extends SyntaxError {
  /** The file (or in-memory source name) that is malformed. */
  readonly source: string;
  /** 1-based line (TSV/JSONL) or row (parquet); 0 for problems of the whole file. */
  readonly line: number;
  /** The problem, without the file and line. */
  readonly reason: string;
  /** What `line` counts. */
  readonly unit: DataPositionUnit;
  /** The JSON path of the problem (SQuAD), when `unit` is `"path"`. */
  readonly path: string | undefined;

  /**
   * Builds the error and its message.
   *
   * @param source File path or source name.
   * @param line 1-based line or row; 0 when the problem concerns the whole file.
   * @param reason The problem, phrased "X must be Y: current value is V".
   * @param options `unit` (default `"line"`), `path` for JSON locations, and `cause`.
   */
  constructor(
    source: string,
    line: number,
    reason: string,
    options: { unit?: DataPositionUnit; path?: string; cause?: unknown } = {},
  ) {
    const unit = options.unit ?? "line";
    const where = unit === "path"
      ? `${source} at ${options.path ?? "(root)"}`
      : line > 0
      ? `${source} ${unit} ${line}`
      : source;
    super(
      `Cannot read ${where} as ${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "DataFormatError";
    this.source = source;
    this.line = line;
    this.reason = reason;
    this.unit = unit;
    this.path = options.path;
  }
}
