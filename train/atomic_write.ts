/**
 * Crash-safe file writes: write a temporary file in the target's folder, flush it to disk,
 * then rename it over the target, so readers see either the old file or the complete new one.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

const encoder = new TextEncoder();

/**
 * Writes every byte of `bytes` to an open file (a single `write` may write fewer).
 *
 * @param file The open file.
 * @param bytes The bytes to write.
 * @returns Resolves when all bytes are written.
 *
 * @example Writing to a temporary file
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./atomic_write.ts";
 *
 * const path = await Deno.makeTempFile();
 * const file = await Deno.open(path, { write: true });
 * await writeAll(file, new TextEncoder().encode("hello"));
 * file.close();
 * assert.equal(await Deno.readTextFile(path), "hello");
 * await Deno.remove(path);
 * ```
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await file.write(bytes.subarray(offset));
  }
}

/**
 * Flushes a folder's entries (new names, renames) to disk. Where the platform cannot open a
 * folder for syncing (Windows) this is a no-op.
 *
 * @param dir The folder.
 * @returns Resolves when the folder's metadata is durable.
 *
 * @example Syncing a folder
 * ```ts
 * import { syncDir } from "./atomic_write.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await syncDir(dir);
 * await Deno.remove(dir);
 * ```
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw error;
    // Folders cannot be opened or fsynced on some platforms: the rename is still atomic.
  } finally {
    handle?.close();
  }
}

function tempSibling(path: string): string {
  const suffix = `${Deno.pid}-${Date.now().toString(36)}-${
    Math.floor(Math.random() * 0x100000000).toString(36)
  }`;
  return join(dirname(path), `.${basename(path)}.${suffix}.tmp`);
}

/**
 * Replaces `path` atomically: the data goes to a temporary file in the same folder, which is
 * fsynced, closed and renamed over `path`; the folder is then fsynced. A crash at any point
 * leaves either the previous file or the complete new one (plus, at worst, a stray
 * `.<name>.*.tmp` file). The folder must exist.
 *
 * @param path The file to write.
 * @param data The content: bytes, or text written as UTF-8.
 * @returns Resolves once the new content is durable under `path`.
 * @throws {Deno.errors.NotFound} When the folder does not exist.
 *
 * @example Replacing a file
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./atomic_write.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.txt`, "one");
 * await writeFileAtomic(`${dir}/a.txt`, new TextEncoder().encode("two"));
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "two");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const temp = tempSibling(path);
  let renamed = false;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      await writeAll(file, bytes);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
    renamed = true;
    await syncDir(dirname(path));
  } finally {
    if (!renamed) await Deno.remove(temp).catch(() => {});
  }
}

/**
 * Writes `value` as pretty JSON (2-space indent, final newline) with `writeFileAtomic`.
 * Non-finite numbers become `null`, as in `JSON.stringify`.
 *
 * @param path The file to write.
 * @param value A JSON-serialisable value.
 * @returns Resolves once the file is durable.
 * @throws {TypeError} When the value cannot be serialised (cycles, BigInt).
 *
 * @example Round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeJsonAtomic } from "./atomic_write.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeJsonAtomic(`${dir}/c.json`, { lr: 0.001, seeds: [0, 1] });
 * assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/c.json`)), { lr: 0.001, seeds: [0, 1] });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) {
    throw new TypeError(
      `Cannot write ${path} as the value must be JSON-serialisable: current value is ${typeof value}`,
    );
  }
  await writeFileAtomic(path, `${text}\n`);
}
