/** Helpers of the CLI tests: folder fingerprints (byte-identical checks), copies, output sinks. */
import { join } from "node:path";

/**
 * A fingerprint of a folder: every entry's relative path and kind, and every file's SHA-256,
 * sorted. Two equal fingerprints mean the folder is byte-identical (names, tree and contents).
 */
export async function folderFingerprint(dir: string): Promise<string> {
  const lines: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = [];
    for await (const e of Deno.readDir(join(dir, rel))) entries.push(e);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) {
        lines.push(`d ${path}`);
        await walk(path);
      } else {
        const bytes = await Deno.readFile(join(dir, path));
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        lines.push(`f ${path} ${[...hash].map((b) => b.toString(16).padStart(2, "0")).join("")}`);
      }
    }
  }
  await walk("");
  return lines.join("\n");
}

/** Copies a folder tree. */
export async function copyFolder(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyFolder(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

/** Collects what a CLI writes through `writeSync`. */
export function sink(): { writeSync(b: Uint8Array): number; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    writeSync(b: Uint8Array): number {
      chunks.push(b.slice());
      return b.length;
    },
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}
