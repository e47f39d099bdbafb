import assert from "node:assert/strict";
import { writeFileAtomic, writeJsonAtomic } from "../../train/atomic_write.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "triadapt-atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("writeFileAtomic() creates, then replaces, a file and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/state.bin`;
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, "héllo");
    assert.equal(await Deno.readTextFile(path), "héllo");
    assert.deepEqual(await names(dir), ["state.bin"]);
  });
});

Deno.test("writeFileAtomic() writes large content completely", async () => {
  await withTempDir(async (dir) => {
    // Arrange: 8 MiB with a position-dependent pattern, so a short write would show.
    const bytes = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
    // Act
    await writeFileAtomic(`${dir}/big.bin`, bytes);
    // Assert
    assert.deepEqual(await Deno.readFile(`${dir}/big.bin`), bytes);
  });
});

Deno.test("writeFileAtomic() keeps the old file when the write fails, and cleans up", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/config.json`;
    await writeFileAtomic(path, "old");
    // Renaming a file over a non-empty folder fails after the temporary file was written.
    await Deno.mkdir(`${dir}/blocked`);
    await Deno.writeTextFile(`${dir}/blocked/x`, "x");
    await assert.rejects(() => writeFileAtomic(`${dir}/blocked`, "new"));
    assert.equal(await Deno.readTextFile(path), "old");
    assert.deepEqual(await names(dir), ["blocked", "config.json"], "no stray temp file");
  });
});

Deno.test("writeFileAtomic() rejects with NotFound when the folder is missing", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => writeFileAtomic(`${dir}/nope/a.txt`, "x"), Deno.errors.NotFound);
  });
});

Deno.test("writeFileAtomic() never exposes a partial file to a concurrent reader", async () => {
  await withTempDir(async (dir) => {
    // Arrange: two distinguishable 256 KiB payloads.
    const path = `${dir}/flip.bin`;
    const a = new Uint8Array(1 << 18).fill(0xaa);
    const b = new Uint8Array(1 << 18).fill(0xbb);
    await writeFileAtomic(path, a);
    // Act: rewrite repeatedly while reading.
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await writeFileAtomic(path, i % 2 === 0 ? b : a);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const seen = await Deno.readFile(path);
      // Assert: always exactly one whole payload.
      assert.equal(seen.length, 1 << 18);
      assert.ok(seen.every((v) => v === seen[0]), "mixed content");
      reads++;
    }
    await writer;
    assert.ok(reads > 0);
  });
});

Deno.test("writeJsonAtomic() writes pretty JSON with a final newline", async () => {
  await withTempDir(async (dir) => {
    await writeJsonAtomic(`${dir}/c.json`, { a: 1, b: [NaN] });
    assert.equal(
      await Deno.readTextFile(`${dir}/c.json`),
      '{\n  "a": 1,\n  "b": [\n    null\n  ]\n}\n',
    );
    await assert.rejects(() => writeJsonAtomic(`${dir}/u.json`, undefined), TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(() => writeJsonAtomic(`${dir}/cyc.json`, cyclic), TypeError);
    assert.deepEqual(await names(dir), ["c.json"]);
  });
});
