/**
 * `readGlue`: read a GLUE split from a file or a task folder, in the original TSV layout or as
 * a Hugging Face parquet/JSONL export.
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DataFormatError } from "./data_format_error.ts";
import { hfSplitName, resolveGlueSplit, resolveGlueTask } from "./glue_tasks.ts";
import {
  type GlueExample,
  type GlueParseResult,
  parseGlueJsonl,
  parseGlueParquet,
  parseGlueTsv,
  type SkippedRow,
} from "./parse_glue.ts";

/**
 * Options of {@linkcode readGlue}.
 *
 * @example `skipBadRows: true` gives a report, not an array
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReadGlueOptions } from "./read_glue.ts";
 * import { readGlue } from "./read_glue.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/train.tsv`, "sentence\tlabel\ngood .\t1\n");
 * const options: ReadGlueOptions = { skipBadRows: true };
 * assert.ok(!Array.isArray(await readGlue("sst2", "train", dir, options)));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface ReadGlueOptions {
  /**
   * Skip malformed rows and report them instead of throwing (the `--skip-bad-rows` flag).
   * With `true`, `readGlue` resolves to `{ examples, skipped }`. Default `false`.
   */
  readonly skipBadRows?: boolean;
}

/**
 * What `readGlue` returns under `skipBadRows: true`.
 *
 * @example Each skipped row names its file
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueReadReport } from "./read_glue.ts";
 * import { readGlue } from "./read_glue.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/train.tsv`, "sentence\tlabel\nok .\tmaybe\ngood .\t1\n");
 * const report: GlueReadReport = await readGlue("sst2", "train", dir, { skipBadRows: true });
 * assert.equal(report.files.length, 1);
 * assert.ok(report.skipped[0]?.file.endsWith("train.tsv"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface GlueReadReport {
  /** The examples read, in file order (shards in file-name order). */
  readonly examples: GlueExample[];
  /** Every skipped row, with its file. */
  readonly skipped: (SkippedRow & { readonly file: string })[];
  /** The files read. */
  readonly files: string[];
}

type Format = "tsv" | "parquet" | "jsonl";

function formatOf(file: string): Format | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === ".tsv" || ext === ".txt") return "tsv";
  if (ext === ".parquet") return "parquet";
  if (ext === ".jsonl" || ext === ".json" || ext === ".ndjson") return "jsonl";
  return undefined;
}

/**
 * Index of the first byte that does not start or continue a well-formed UTF-8 sequence (Unicode
 * Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or `bytes.length` if none.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return bytes.length;
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  if ((await statOrUndefined(dir))?.isDirectory !== true) return names;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) names.push(entry.name);
  }
  return names.sort();
}

/** Finds the data files of a split in a folder; `[]` if there are none. */
async function filesInFolder(
  dir: string,
  split: string,
  hfSplit: string,
): Promise<{ files: string[]; tried: string[] }> {
  const tsv = join(dir, `${split}.tsv`);
  const tried = [tsv];
  if ((await statOrUndefined(tsv))?.isFile === true) return { files: [tsv], tried };
  // Hub layouts: <hf>-00000-of-00001.parquet, <hf>.jsonl, or <hf>/0000.parquet.
  const shard = new RegExp(`^${hfSplit}(?:[-.].*)?\\.(?:parquet|jsonl|json|ndjson)$`);
  for (const format of ["parquet", "jsonl"] as const) {
    const here = (await listFiles(dir))
      .filter((name) => shard.test(name) && formatOf(name) === format)
      .map((name) => join(dir, name));
    tried.push(join(dir, `${hfSplit}*.${format}`));
    if (here.length > 0) return { files: here, tried };
    const sub = join(dir, hfSplit);
    const nested = (await listFiles(sub))
      .filter((name) => formatOf(name) === format)
      .map((name) => join(sub, name));
    tried.push(join(sub, `*.${format}`));
    if (nested.length > 0) return { files: nested, tried };
  }
  return { files: [], tried };
}

/**
 * Reads one GLUE split.
 *
 * `path` is a file or a folder. A file's format comes from its extension: `.tsv` (original GLUE
 * distribution), `.parquet` (Hugging Face Hub export, read with `hyparquet`), `.jsonl`/`.json`
 * (Hugging Face `to_json`, one object per line). A folder is the task's folder: `<split>.tsv`
 * is used if present (`dev.tsv`, `dev_matched.tsv`, …), else the Hub shards of the split
 * (`validation-*.parquet`, `validation/*.parquet`, then the same for `.jsonl`), concatenated in
 * file-name order. A folder holding the task's GLUE or Hub folder (`RTE/`, `rte/`) is accepted
 * too. Nothing is skipped silently: a malformed row throws {@linkcode DataFormatError} naming
 * the file, line or row and problem, unless `skipBadRows` is set.
 *
 * @param task `cola sst2 mrpc stsb qqp mnli qnli rte`, case-insensitive (also `SST-2`, `STS-B`).
 * @param split `train dev test dev_matched dev_mismatched test_matched test_mismatched` (or the
 *   Hub names `validation*`).
 * @param path A data file or folder (string path or `file:` URL).
 * @param options `skipBadRows`.
 * @returns The examples; with `skipBadRows: true`, a report `{ examples, skipped, files }`.
 * @throws {Deno.errors.NotFound} When the file or the split's files do not exist.
 * @throws {DataFormatError} For malformed content.
 *
 * @example Read RTE dev from its GLUE folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { readGlue } from "./read_glue.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(
 *   `${dir}/dev.tsv`,
 *   "index\tsentence1\tsentence2\tlabel\n0\tA man sleeps.\tA man rests.\tentailment\n",
 * );
 * const examples = await readGlue("RTE", "dev", dir);
 * assert.deepEqual(examples, [{ textA: "A man sleeps.", textB: "A man rests.", label: 0, idx: 0 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function readGlue(task: string, split: string, path: string | URL): Promise<GlueExample[]>;
/**
 * Reads one GLUE split and reports skipped rows instead of throwing on them.
 *
 * @param task Task name.
 * @param split Split name.
 * @param path A data file or folder.
 * @param options `{ skipBadRows: true }`.
 * @returns `{ examples, skipped, files }`.
 *
 * @example Skip a row with an unknown label and report it
 * ```ts
 * import assert from "node:assert/strict";
 * import { readGlue } from "./read_glue.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(
 *   `${dir}/dev.tsv`,
 *   "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tmaybe\n1\tC.\tD.\tentailment\n",
 * );
 * const report = await readGlue("rte", "dev", dir, { skipBadRows: true });
 * assert.equal(report.examples.length, 1);
 * assert.equal(report.skipped.length, 1);
 * assert.equal(report.skipped[0]?.line, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function readGlue(
  task: string,
  split: string,
  path: string | URL,
  options: ReadGlueOptions & { readonly skipBadRows: true },
): Promise<GlueReadReport>;
/**
 * Reads one GLUE split.
 *
 * @param task Task name.
 * @param split Split name.
 * @param path A data file or folder.
 * @param options `skipBadRows`.
 * @returns The examples, or a report under `skipBadRows: true`.
 */
export function readGlue(
  task: string,
  split: string,
  path: string | URL,
  options?: ReadGlueOptions,
): Promise<GlueExample[] | GlueReadReport>;
export async function readGlue(
  task: string,
  split: string,
  path: string | URL,
  options: ReadGlueOptions = {},
): Promise<GlueExample[] | GlueReadReport> {
  const spec = resolveGlueTask(task);
  const canonical = resolveGlueSplit(spec, split);
  const root = path instanceof URL ? fileURLToPath(path) : path;
  const info = await statOrUndefined(root);
  if (info === undefined) {
    throw new Deno.errors.NotFound(
      `Cannot read GLUE ${spec.gluePrefix} ${canonical} as the path must exist: ${root} not found`,
    );
  }
  let files: string[];
  if (info.isDirectory) {
    let found = await filesInFolder(root, canonical, hfSplitName(canonical));
    const tried = [...found.tried];
    if (found.files.length === 0) {
      for (const name of [spec.gluePrefix, spec.name]) {
        const sub = join(root, name);
        if ((await statOrUndefined(sub))?.isDirectory !== true) continue;
        found = await filesInFolder(sub, canonical, hfSplitName(canonical));
        tried.push(...found.tried);
        if (found.files.length > 0) break;
      }
    }
    if (found.files.length === 0) {
      throw new Deno.errors.NotFound(
        `Cannot read GLUE ${spec.gluePrefix} ${canonical} as a data file must exist in ${root}: ` +
          `tried ${tried.join(", ")}`,
      );
    }
    files = found.files;
  } else {
    if (formatOf(root) === undefined) {
      throw new TypeError(
        `Cannot read GLUE ${spec.gluePrefix} ${canonical} as the file extension must be .tsv, ` +
          `.parquet or .jsonl: current value is "${basename(root)}"`,
      );
    }
    files = [root];
  }

  const skipBadRows = options.skipBadRows ?? false;
  const examples: GlueExample[] = [];
  const skipped: (SkippedRow & { file: string })[] = [];
  for (const file of files) {
    const bytes = await Deno.readFile(file);
    const parseOptions = { source: file, skipBadRows };
    let result: GlueParseResult;
    const format = formatOf(file);
    if (format === "parquet") {
      result = await parseGlueParquet(bytes, spec.name, canonical, parseOptions);
    } else {
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch (error) {
        const at = firstInvalidUtf8(bytes);
        let line = 1;
        for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
        const column = at === 0 ? 1 : at - bytes.lastIndexOf(0x0a, at - 1); // 1-based
        throw new DataFormatError(
          file,
          line,
          `text must be valid UTF-8: current value has an invalid byte 0x${
            (bytes[at] ?? 0).toString(16).padStart(2, "0")
          } at byte ${column} of the line`,
          { cause: error },
        );
      }
      result = format === "tsv"
        ? parseGlueTsv(text, spec.name, canonical, parseOptions)
        : parseGlueJsonl(text, spec.name, canonical, parseOptions);
    }
    for (const example of result.examples) examples.push(example);
    for (const row of result.skipped) skipped.push({ ...row, file });
  }
  return skipBadRows ? { examples, skipped, files } : examples;
}
