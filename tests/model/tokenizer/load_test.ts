import assert from "node:assert/strict";
import { loadTokenizer, padBatch } from "../../../model/tokenizer.ts";
import { spmModelUrl } from "./_fixtures.ts";

async function hfFolder(files: Record<string, unknown>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "triadapt_tok_" });
  // A link, not a copy, of the golden model: the folder layout of a Hugging Face checkpoint.
  await Deno.symlink(spmModelUrl("unigram").pathname, `${dir}/spm.model`);
  for (const [name, v] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, JSON.stringify(v));
  }
  return dir;
}

Deno.test("loadTokenizer() reads a Hugging Face folder: do_lower_case and added_tokens.json", async () => {
  const dir = await hfFolder({
    "tokenizer_config.json": { do_lower_case: true, mask_token: { content: "[MASK]" } },
    "added_tokens.json": { "[MASK]": 2000 },
  });
  try {
    const tok = await loadTokenizer(dir);
    assert.equal(tok.doLowerCase, true);
    assert.equal(tok.special.mask, 2000);
    assert.ok(tok.notes.some((n) => n.includes("added_tokens.json")));
    const plain = await loadTokenizer(spmModelUrl("unigram"));
    assert.deepEqual(tok.encode("HELLO World").ids, plain.encode("hello world").ids);
    // Lower-casing that changes length ("İ" → "i̇") keeps offsets on the original text.
    const text = "İstanbul WORLD";
    const e = tok.encode(text);
    const last = e.offsets.at(-1) as [number, number];
    assert.equal(text.slice(...last).toLowerCase(), e.pieces.at(-1)?.replace(/^\u2581/, ""));
    assert.equal(last[1], text.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadTokenizer() rejects a missing path and a file that is not a model", async () => {
  await assert.rejects(loadTokenizer("/nonexistent/spm.model"), TypeError);
  await assert.rejects(loadTokenizer(new URL("https://example.com/spm.model")), TypeError);
  const dir = await Deno.makeTempDir({ prefix: "triadapt_tok_" });
  try {
    await Deno.writeTextFile(`${dir}/spm.model`, "this is not a protobuf");
    await assert.rejects(loadTokenizer(dir), SyntaxError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("padBatch() pads to the batch's longest, rounded to multipleOf", () => {
  const encs = [
    { inputIds: [1, 7, 8, 2], tokenTypeIds: [0, 0, 0, 0] },
    { inputIds: [1, 9, 2, 4, 2], tokenTypeIds: [0, 0, 0, 1, 1] },
  ];
  const b = padBatch(encs, { padId: 0 });
  assert.deepEqual(b.inputIds, [[1, 7, 8, 2, 0], [1, 9, 2, 4, 2]]);
  assert.deepEqual(b.tokenTypeIds, [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]]);
  assert.deepEqual(b.attentionMask, [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]);
  assert.equal(padBatch(encs, { padId: 0, multipleOf: 8 }).inputIds[0]?.length, 8);
  assert.deepEqual(padBatch([], { padId: 0 }).inputIds, []);
  assert.throws(() => padBatch(encs, { padId: 0, multipleOf: 0 }), RangeError);
  assert.throws(() => padBatch([{ inputIds: [1], tokenTypeIds: [] }], { padId: 0 }), TypeError);
});
