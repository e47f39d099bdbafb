/**
 * What `deno task train --resume <dir>` checks before it touches anything: the run's
 * `config.json`, the flags given next to `--resume` (each must repeat the recorded value), and
 * the checkpoint to continue from (the latest, or `--checkpoint step-N`), whose files must all
 * be intact. Every failure is one line that names the file or flag; the run folder is left
 * byte-identical.
 *
 * @module
 */

import { join } from "node:path";
import { checkCheckpointFiles, readJsonNamed } from "./checkpoint.ts";
import { FLAG_SPECS, type FlagSpec, type TrainOptions } from "./hyperparams.ts";
import {
  checkpointStep,
  listCheckpointNames,
  readLatestCheckpointDir,
  runFolderPaths,
} from "./run_folder.ts";

/**
 * The checkpoint a resumed run continues from.
 *
 * @example Its fields
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ResumePoint } from "./run_resume.ts";
 *
 * const point: ResumePoint = { dir: "runs/a/checkpoints/step-00000008", name: "step-00000008", step: 8 };
 * assert.equal(point.step, 8);
 * ```
 */
export interface ResumePoint {
  /** The checkpoint folder. */
  readonly dir: string;
  /** Its name under `checkpoints/`. */
  readonly name: string;
  /** The optimizer step it captures. */
  readonly step: number;
}

/**
 * Reads a run folder's `config.json` for `--resume`, naming the file in every error.
 *
 * @param dir The run folder.
 * @returns The parsed config object.
 * @throws {Deno.errors.NotFound} When the folder or its `config.json` is missing.
 * @throws {SyntaxError} When `config.json` is not a JSON object.
 *
 * @example An empty config.json is named
 * ```ts
 * import assert from "node:assert/strict";
 * import { readResumeConfig } from "./run_resume.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "");
 * await assert.rejects(() => readResumeConfig(dir), /config\.json as it must be JSON: the file is empty/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readResumeConfig(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, "config.json");
  let config: unknown;
  try {
    config = await readJsonNamed(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Cannot resume ${dir} as it must be a run folder with config.json: ${path} is missing`,
      );
    }
    throw error;
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new SyntaxError(`Cannot read ${path} as it must be a JSON object`);
  }
  return config as Record<string, unknown>;
}

/**
 * The flags given next to `--resume` whose value differs from the one the run recorded (they
 * would change the run, so resume refuses them). `--resume`, `--checkpoint` and the flags marked
 * `resumeMayChange` in `FLAG_SPECS` are never refused; a flag that repeats the recorded value is
 * accepted.
 *
 * @param given Values of the typed flags, by option key (`parseGivenFlags(...).given`).
 * @param recorded The options recorded in the run's `config.json` (`cli.options`).
 * @param specs The schema (default `FLAG_SPECS`).
 * @returns The refused flags as `--flag`, in schema order (empty when none).
 *
 * @example `--max-steps` and `--lr` differ, `--seed` repeats the recorded value
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAG_SPECS } from "./hyperparams.ts";
 * import { refusedResumeFlags } from "./run_resume.ts";
 *
 * const recorded = { lr: 5e-3, seed: 0, seeds: [0], maxSteps: undefined };
 * assert.deepEqual(
 *   refusedResumeFlags({ resume: "runs/a", maxSteps: 20, lr: 0.5, seed: 0 }, recorded),
 *   ["--max-steps", "--lr"],
 * );
 * // A flag marked `resumeMayChange` may differ.
 * const specs = FLAG_SPECS.map((s) => s.key === "lr" ? { ...s, resumeMayChange: true } : s);
 * assert.deepEqual(refusedResumeFlags({ lr: 0.5 }, recorded, specs), []);
 * ```
 */
export function refusedResumeFlags(
  given: Readonly<Partial<TrainOptions>>,
  recorded: Readonly<Record<string, unknown>>,
  specs: readonly FlagSpec[] = FLAG_SPECS,
): string[] {
  const refused: string[] = [];
  for (const spec of specs) {
    if (spec.key === "resume" || spec.key === "checkpoint" || spec.resumeMayChange) continue;
    const value = given[spec.key];
    if (value === undefined) continue;
    if (JSON.stringify(value) !== JSON.stringify(recorded[spec.key])) {
      refused.push(`--${spec.flag}`);
    }
  }
  return refused;
}

/**
 * The one-line refusal for {@linkcode refusedResumeFlags}: names each flag with the value the
 * run recorded.
 *
 * @param dir The run folder.
 * @param refused The refused flags (`--flag`).
 * @param recorded The recorded options.
 * @returns The message (without the `error: ` prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeRefusal } from "./run_resume.ts";
 *
 * const text = resumeRefusal("runs/a", ["--max-steps", "--lr"], { lr: 0.005 });
 * assert.match(text, /with --max-steps, --lr as they would change the run/);
 * assert.match(text, /recorded --max-steps unset, --lr 0\.005/);
 * ```
 */
export function resumeRefusal(
  dir: string,
  refused: readonly string[],
  recorded: Readonly<Record<string, unknown>>,
): string {
  const shown = refused.map((flag) => {
    const spec = FLAG_SPECS.find((s) => `--${s.flag}` === flag);
    const value = spec === undefined ? undefined : recorded[spec.key];
    const text = value === undefined
      ? "unset"
      : Array.isArray(value)
      ? value.join(",")
      : String(value);
    return `${flag} ${text}`;
  });
  return `Cannot resume ${dir} with ${refused.join(", ")} as ${
    refused.length === 1 ? "it" : "they"
  } would change the run: recorded ${
    shown.join(", ")
  } (give --resume ${dir} alone, or start a new run with --out)`;
}

/**
 * Finds and checks the checkpoint `--resume` continues from: `name` (`--checkpoint`, a folder
 * under `checkpoints/`) or the latest. Its files must all be intact; when they are not, the
 * error names the damaged file and the older intact checkpoints to continue from instead.
 *
 * @param dir The run folder.
 * @param name The checkpoint to continue from (default: the latest).
 * @returns The checkpoint, or `undefined` when the run has none yet (it then restarts at step 0).
 * @throws {RangeError} When `name` is not one of the run's checkpoints or the checkpoint is damaged.
 *
 * @example A run without checkpoints, and an unknown name
 * ```ts
 * import assert from "node:assert/strict";
 * import { findResumePoint } from "./run_resume.ts";
 *
 * const dir = await Deno.makeTempDir();
 * assert.equal(await findResumePoint(dir), undefined);
 * await assert.rejects(() => findResumePoint(dir, "step-00000004"), /--checkpoint must name one of the run's checkpoints: current value is step-00000004/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function findResumePoint(
  dir: string,
  name?: string,
): Promise<ResumePoint | undefined> {
  const folder = runFolderPaths(dir);
  const names = await listCheckpointNames(folder);
  let target: string | undefined;
  if (name !== undefined) {
    if (!names.includes(name)) {
      throw new RangeError(
        `Cannot resume ${dir} as --checkpoint must name one of the run's checkpoints: current value is ${name} (the run has ${
          names.length === 0 ? "none" : names.join(", ")
        })`,
      );
    }
    target = join(folder.checkpointsDir, name);
  } else {
    target = await readLatestCheckpointDir(folder);
  }
  if (target === undefined) return undefined;
  const targetName = target.split(/[\\/]/).at(-1) as string;
  try {
    await checkCheckpointFiles(target);
  } catch (error) {
    const older: string[] = [];
    for (const n of names.filter((n) => n < targetName)) {
      try {
        await checkCheckpointFiles(join(folder.checkpointsDir, n));
        older.push(n);
      } catch {
        // Damaged too: not offered.
      }
    }
    const newest = older.at(-1);
    const hint = newest === undefined
      ? "no older intact checkpoint is left"
      : `older intact: ${older.join(", ")}; continue with --resume ${dir} --checkpoint ${newest}`;
    throw new RangeError(
      `Cannot resume ${dir} from ${targetName} as it is damaged: ${
        ((error as Error).message ?? String(error)).split("\n")[0]
      } (${hint})`,
    );
  }
  return { dir: target, name: targetName, step: checkpointStep(target) };
}
