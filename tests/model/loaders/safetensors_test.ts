import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CheckpointFormatError,
  decodeTensorBytes,
  parseSafetensors,
  type RawTensor,
  writeSafetensors,
} from "../../../model/safetensors.ts";
import { GOLDEN_SAFETENSORS } from "./_golden.ts";

const golden = await Deno.readFile(GOLDEN_SAFETENSORS);

/** Builds a safetensors file from a raw header object and a data buffer. */
function build(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function assertFormatError(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CheckpointFormatError, `${error}`);
    assert.ok(error instanceof SyntaxError);
    for (const n of needles) assert.match(error.message, new RegExp(n.replace(/[.[\]]/g, "\\$&")));
    return true;
  });
}

Deno.test("parseSafetensors() reads the 42 golden F32 tensors", () => {
  const sd = parseSafetensors(golden, GOLDEN_SAFETENSORS);
  assert.equal(sd.size, 42);
  for (const t of sd.values()) {
    assert.equal(t.dtype, "F32");
    assert.ok(t.data instanceof Float32Array);
    assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
  }
  const emb = sd.get("deberta.embeddings.word_embeddings.weight")!;
  assert.deepEqual(emb.shape, [100, 32]);
  // the padding row (pad_token_id 0) is zero, the next row is not
  assert.ok(emb.data.subarray(0, 32).every((v) => v === 0));
  assert.ok(emb.data.subarray(32, 64).some((v) => v !== 0));
  assert.deepEqual(sd.get("deberta.encoder.rel_embeddings.weight")!.shape, [16, 32]);
  assert.deepEqual(sd.get("classifier.weight")!.shape, [3, 32]);
});

Deno.test("parseSafetensors() round-trips writeSafetensors() output bit for bit", () => {
  const sd = parseSafetensors(golden, GOLDEN_SAFETENSORS);
  const again = parseSafetensors(writeSafetensors(sd, { format: "pt" }), "rewritten");
  assert.equal(again.size, sd.size);
  for (const [k, t] of sd) {
    const u = again.get(k)!;
    assert.deepEqual(u.shape, t.shape);
    assert.deepEqual(new Uint8Array(u.data.buffer), new Uint8Array(t.data.buffer), k);
  }
});

Deno.test("writeSafetensors() sorts keys, pads the header to 8 bytes and writes I32", () => {
  const bytes = writeSafetensors({
    b: { shape: [2], dtype: "I32", data: new Int32Array([-1, 7]) },
    a: { shape: [], dtype: "F32", data: new Float32Array([0.5]) },
  });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(Object.keys(header), ["a", "b"]);
  assert.deepEqual(header.b, { dtype: "I32", shape: [2], data_offsets: [4, 12] });
  const sd = parseSafetensors(bytes, "mem");
  assert.deepEqual([...sd.get("b")!.data], [-1, 7]);
  assert.ok(sd.get("b")!.data instanceof Int32Array);
  assert.deepEqual(sd.get("a")!.shape, []);
});

Deno.test("writeSafetensors() refuses a shape that does not match its data", () => {
  assert.throws(
    () => writeSafetensors({ w: { shape: [3], dtype: "F32", data: new Float32Array(2) } }),
    TypeError,
  );
  assert.throws(
    () =>
      writeSafetensors({ __metadata__: { shape: [0], dtype: "F32", data: new Float32Array() } }),
    TypeError,
  );
});

Deno.test("decodeTensorBytes() converts F16, BF16, F64, I64, I8 and BOOL", () => {
  const f16 = decodeTensorBytes(new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c]), {
    dtype: "F16",
    shape: [4],
    name: "h",
    source: "mem",
  });
  assert.deepEqual([...f16.data], [1, -2, 2 ** -24, Infinity]);
  const bf16 = decodeTensorBytes(new Uint8Array([0x80, 0x3f, 0x49, 0x40]), {
    dtype: "BF16",
    shape: [2],
    name: "b",
    source: "mem",
  });
  assert.deepEqual([...bf16.data], [1, 3.140625]);
  const f64 = new Uint8Array(new Float64Array([0.1]).buffer);
  assert.equal(
    decodeTensorBytes(f64, { dtype: "F64", shape: [1], name: "d", source: "mem" }).data[0],
    Math.fround(0.1),
  );
  const i64 = new Uint8Array(new BigInt64Array([-5n, 2147483647n]).buffer);
  const ints = decodeTensorBytes(i64, { dtype: "I64", shape: [2], name: "i", source: "mem" });
  assert.ok(ints.data instanceof Int32Array);
  assert.deepEqual([...ints.data], [-5, 2147483647]);
  assert.deepEqual(
    [
      ...decodeTensorBytes(new Uint8Array([0xff, 1]), {
        dtype: "I8",
        shape: [2],
        name: "c",
        source: "m",
      }).data,
    ],
    [-1, 1],
  );
  assert.deepEqual(
    [
      ...decodeTensorBytes(new Uint8Array([0, 1]), {
        dtype: "BOOL",
        shape: [2],
        name: "m",
        source: "m",
      }).data,
    ],
    [0, 1],
  );
});

Deno.test("parseSafetensors() refuses I64 values outside int32 with a RangeError naming the tensor", () => {
  const data = new Uint8Array(new BigInt64Array([1n, 2n ** 31n]).buffer);
  const bytes = build({
    "deberta.embeddings.position_ids": { dtype: "I64", shape: [2], data_offsets: [0, 16] },
  }, data);
  assert.throws(() => parseSafetensors(bytes, "big.safetensors"), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /position_ids/);
    assert.match(e.message, /big\.safetensors/);
    assert.match(e.message, /2147483648/);
    return true;
  });
});

Deno.test("parseSafetensors() refuses a truncated file naming the file", () => {
  assertFormatError(
    () => parseSafetensors(golden.subarray(0, 5), "cut.safetensors"),
    "cut.safetensors",
  );
  // cut inside the data buffer: the header now points beyond the end
  assertFormatError(
    () => parseSafetensors(golden.subarray(0, golden.length - 1), "cut.safetensors"),
    "cut.safetensors",
  );
});

Deno.test("parseSafetensors() refuses a header length beyond the file", () => {
  const bytes = golden.slice();
  new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
  assertFormatError(
    () => parseSafetensors(bytes, "long.safetensors"),
    "long.safetensors",
    "header length",
  );
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
  assertFormatError(() => parseSafetensors(bytes, "long.safetensors"), "header");
});

Deno.test("parseSafetensors() refuses bytes after the last tensor (incomplete metadata)", () => {
  // The reference reader refuses a buffer longer than the tensors it declares
  // (MetadataIncompleteBuffer); a silently ignored tail could hide a lost tensor entry.
  const padded = new Uint8Array(golden.length + 4);
  padded.set(golden);
  assertFormatError(
    () => parseSafetensors(padded, "tail.safetensors"),
    "tail.safetensors",
    "data buffer",
  );
});

Deno.test("parseSafetensors() refuses a header that is not a JSON object", () => {
  assertFormatError(() => parseSafetensors(build([1, 2], new Uint8Array()), "arr"), "JSON object");
  const bad = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b]);
  assertFormatError(() => parseSafetensors(bad, "bad.safetensors"), "bad.safetensors", "JSON");
});

Deno.test("parseSafetensors() refuses overlapping offsets naming the tensor", () => {
  const bytes = build({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  }, new Uint8Array(12));
  assertFormatError(
    () => parseSafetensors(bytes, "ov.safetensors"),
    "ov.safetensors",
    '"b"',
    "overlap",
  );
});

Deno.test("parseSafetensors() refuses offsets out of range, holes and wrong spans", () => {
  const data = new Uint8Array(8);
  assertFormatError(
    () =>
      parseSafetensors(
        build({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data),
        "o",
      ),
    '"a"',
    "data_offsets",
  );
  assertFormatError(
    () =>
      parseSafetensors(build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, data), "h"),
    '"a"',
    "holes",
  );
  assertFormatError(
    () =>
      parseSafetensors(build({ a: { dtype: "F32", shape: [1], data_offsets: [0, 8] } }, data), "s"),
    '"a"',
    "span 4 bytes",
  );
  assertFormatError(
    () =>
      parseSafetensors(
        build({ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data),
        "n",
      ),
    '"a"',
    "shape",
  );
});

Deno.test("parseSafetensors() refuses an unknown dtype naming the tensor and the dtype", () => {
  const bytes = build(
    { w: { dtype: "F8_E4M3", shape: [8], data_offsets: [0, 8] } },
    new Uint8Array(8),
  );
  assertFormatError(
    () => parseSafetensors(bytes, "f8.safetensors"),
    "f8.safetensors",
    '"w"',
    "F8_E4M3",
  );
});

const MUTATION_ERRORS = [CheckpointFormatError, RangeError];

Deno.test("parseSafetensors() on mutated or truncated golden bytes only throws typed errors", () => {
  const mutation = fc.record({
    edits: fc.array(
      fc.tuple(fc.nat({ max: golden.length - 1 }), fc.integer({ min: 0, max: 255 })),
      {
        minLength: 1,
        maxLength: 8,
      },
    ),
    // bias towards the header, where a flip changes structure rather than values
    headerBias: fc.boolean(),
    cut: fc.option(fc.nat({ max: golden.length }), { nil: undefined }),
  });
  fc.assert(
    fc.property(mutation, ({ edits, headerBias, cut }) => {
      const bytes = golden.slice();
      for (const [at, value] of edits) bytes[headerBias ? at % 4096 : at] = value;
      const input = cut === undefined ? bytes : bytes.subarray(0, cut);
      try {
        const sd = parseSafetensors(input, "mutated.safetensors");
        for (const t of sd.values()) {
          assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
        }
      } catch (error) {
        assert.ok(MUTATION_ERRORS.some((E) => error instanceof E), `untyped: ${error}`);
      }
    }),
    { seed: 20261128, numRuns: 200 },
  );
});

Deno.test("parseSafetensors() returns nothing partial: an error late in the file still throws", () => {
  const ok: RawTensor = { shape: [1], dtype: "F32", data: new Float32Array([1]) };
  const bytes = writeSafetensors({ a: ok, z: ok });
  const latin1 = new TextDecoder("latin1").decode(bytes);
  const at = latin1.indexOf('"z":{"dtype":"F32"') + '"z":{"dtype":"F'.length;
  const patched = bytes.slice();
  patched.set(new TextEncoder().encode("99"), at);
  assertFormatError(() => parseSafetensors(patched, "late"), '"z"', "F99");
});
