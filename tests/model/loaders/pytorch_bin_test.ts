import assert from "node:assert/strict";
import fc from "fast-check";
import { unzipSync, zipSync } from "fflate";
import { parsePytorchBin } from "../../../model/pytorch_bin.ts";
import { CheckpointFormatError, parseSafetensors } from "../../../model/safetensors.ts";
import { GOLDEN_BIN, GOLDEN_SAFETENSORS } from "./_golden.ts";
import { type FixtureTensor, PickleWriter, stateDictPickle, torchZip } from "./_torch_fixture.ts";

const goldenBin = await Deno.readFile(GOLDEN_BIN);

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function assertFormatError(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CheckpointFormatError, `${error}`);
    for (const n of needles) assert.ok(error.message.includes(n), `${error.message} lacks ${n}`);
    return true;
  });
}

Deno.test("parsePytorchBin() reads the golden file bit-identical to model.safetensors", async () => {
  const bin = parsePytorchBin(goldenBin, GOLDEN_BIN);
  const st = parseSafetensors(await Deno.readFile(GOLDEN_SAFETENSORS), GOLDEN_SAFETENSORS);
  assert.equal(bin.size, 42);
  assert.deepEqual([...bin.keys()].sort(), [...st.keys()].sort());
  for (const [name, t] of st) {
    const u = bin.get(name)!;
    assert.equal(u.dtype, "F32");
    assert.deepEqual(u.shape, t.shape, name);
    assert.deepEqual(bytesOf(u.data), bytesOf(t.data), name);
  }
  // pickle order is model order, not sorted
  assert.equal([...bin.keys()][0], "deberta.embeddings.word_embeddings.weight");
});

/** A protocol-4/5 checkpoint exercising dtypes, shared storages, offsets and strides. */
function syntheticCheckpoint(protocol: number, level: 0 | 6, byteorder?: string): Uint8Array {
  const little = byteorder !== "big";
  const f32 = new Uint8Array(6 * 4);
  const dv = new DataView(f32.buffer);
  [0, 1, 2, 3, 4, 5].forEach((v, i) => dv.setFloat32(i * 4, v + 0.5, little));
  const half = new Uint8Array(4); // 1.0, -2.0 in float16
  new DataView(half.buffer).setUint16(0, 0x3c00, little);
  new DataView(half.buffer).setUint16(2, 0xc000, little);
  const bf16 = new Uint8Array(2);
  new DataView(bf16.buffer).setUint16(0, 0x4049, little); // 3.140625
  const long = new Uint8Array(3 * 8);
  [7n, -1n, 511n].forEach((v, i) => new DataView(long.buffer).setBigInt64(i * 8, v, little));
  const tensors: FixtureTensor[] = [
    // [2,3] row-major view of the whole storage
    {
      name: "w",
      storageType: "FloatStorage",
      key: "0",
      numel: 6,
      offset: 0,
      size: [2, 3],
      stride: [3, 1],
    },
    // transposed view of the same storage: [3,2] with strides (1,3) → non-contiguous copy
    {
      name: "wT",
      storageType: "FloatStorage",
      key: "0",
      numel: 6,
      offset: 0,
      size: [3, 2],
      stride: [1, 3],
    },
    // offset view: elements 4..5
    {
      name: "tail",
      storageType: "FloatStorage",
      key: "0",
      numel: 6,
      offset: 4,
      size: [2],
      stride: [1],
    },
    {
      name: "h",
      storageType: "HalfStorage",
      key: "1",
      numel: 2,
      offset: 0,
      size: [2],
      stride: [1],
    },
    {
      name: "b",
      storageType: "BFloat16Storage",
      key: "2",
      numel: 1,
      offset: 0,
      size: [],
      stride: [],
    },
    {
      name: "ids",
      storageType: "LongStorage",
      key: "3",
      numel: 3,
      offset: 0,
      size: [1, 3],
      stride: [3, 1],
    },
    {
      name: "mask",
      storageType: "BoolStorage",
      key: "4",
      numel: 2,
      offset: 0,
      size: [2],
      stride: [1],
    },
    {
      name: "empty",
      storageType: "ByteStorage",
      key: "5",
      numel: 0,
      offset: 0,
      size: [0, 4],
      stride: [4, 1],
    },
  ];
  const storages = {
    "0": f32,
    "1": half,
    "2": bf16,
    "3": long,
    "4": new Uint8Array([1, 0]),
    "5": new Uint8Array(),
  };
  return torchZip(
    stateDictPickle(tensors, protocol),
    storages,
    byteorder === undefined ? { level } : { level, byteorder },
  );
}

for (
  const [protocol, level, byteorder] of [[2, 0, undefined], [4, 0, "little"], [5, 6, undefined], [
    5,
    0,
    "big",
  ]] as const
) {
  Deno.test(`parsePytorchBin() reads dtypes, offsets and strided views (protocol ${protocol}, ${level ? "deflated" : "stored"}, ${byteorder ?? "no"} byteorder)`, () => {
    const sd = parsePytorchBin(syntheticCheckpoint(protocol, level, byteorder), "synthetic.bin");
    assert.deepEqual([...sd.keys()], ["w", "wT", "tail", "h", "b", "ids", "mask", "empty"]);
    assert.deepEqual([...sd.get("w")!.data], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
    assert.deepEqual(sd.get("wT")!.shape, [3, 2]);
    assert.deepEqual([...sd.get("wT")!.data], [0.5, 3.5, 1.5, 4.5, 2.5, 5.5]);
    assert.deepEqual([...sd.get("tail")!.data], [4.5, 5.5]);
    assert.deepEqual([...sd.get("h")!.data], [1, -2]);
    assert.equal(sd.get("h")!.dtype, "F16");
    assert.deepEqual(sd.get("b")!.shape, []);
    assert.deepEqual([...sd.get("b")!.data], [3.140625]);
    assert.ok(sd.get("ids")!.data instanceof Int32Array);
    assert.deepEqual([...sd.get("ids")!.data], [7, -1, 511]);
    assert.deepEqual([...sd.get("mask")!.data], [1, 0]);
    assert.deepEqual(sd.get("empty")!.shape, [0, 4]);
    assert.equal(sd.get("empty")!.data.length, 0);
  });
}

Deno.test("parsePytorchBin() refuses a pickle that references os.system, naming the global", () => {
  // cos\nsystem\n(S'touch /tmp/pwned'\ntR. : what a malicious checkpoint looks like
  const evil = Uint8Array.from(
    "\x80\x02cos\nsystem\nq\x00(X\x10\x00\x00\x00touch /tmp/pwnedtR.",
    (c) => c.charCodeAt(0),
  );
  assertFormatError(() => parsePytorchBin(torchZip(evil, {}), "evil.bin"), "os.system", "evil.bin");
  // the same through STACK_GLOBAL (protocol 4), hidden inside a tensor entry's position
  const w = new PickleWriter(4);
  w.op(0x80, 4).global("collections", "OrderedDict").op(0x29, 0x52).memo();
  w.str("x").global("builtins", "eval").str("1+1").op(0x85, 0x52, 0x73, 0x2e);
  assertFormatError(() => parsePytorchBin(torchZip(w.bytes(), {}), "evil4.bin"), "builtins.eval");
});

Deno.test("parsePytorchBin() refuses calling an allow-listed storage class or instantiating objects", () => {
  const w = new PickleWriter(2);
  w.op(0x80, 2).global("torch", "FloatStorage").op(0x29, 0x52, 0x2e);
  assertFormatError(
    () => parsePytorchBin(torchZip(w.bytes(), {}), "call.bin"),
    "torch.FloatStorage",
  );
  const n = new PickleWriter(2);
  n.op(0x80, 2).global("collections", "OrderedDict").op(0x29, 0x81, 0x2e); // NEWOBJ
  assertFormatError(() => parsePytorchBin(torchZip(n.bytes(), {}), "newobj.bin"), "NEWOBJ");
});

Deno.test("parsePytorchBin() refuses a view outside its storage, naming the tensor", () => {
  const t: FixtureTensor = {
    name: "big",
    storageType: "FloatStorage",
    key: "0",
    numel: 4,
    offset: 2,
    size: [2, 2],
    stride: [2, 1],
  };
  const bytes = torchZip(stateDictPickle([t], 2), { "0": new Uint8Array(16) });
  assertFormatError(() => parsePytorchBin(bytes, "view.bin"), '"big"', "view.bin", "storage 0");
});

Deno.test("parsePytorchBin() refuses a missing or short storage entry, naming it", () => {
  const t: FixtureTensor = {
    name: "w",
    storageType: "FloatStorage",
    key: "0",
    numel: 4,
    offset: 0,
    size: [4],
    stride: [1],
  };
  assertFormatError(
    () => parsePytorchBin(torchZip(stateDictPickle([t], 2), {}), "m.bin"),
    "archive/data/0",
    "missing",
  );
  assertFormatError(
    () => parsePytorchBin(torchZip(stateDictPickle([t], 2), { "0": new Uint8Array(15) }), "s.bin"),
    "archive/data/0",
    "15 bytes",
  );
});

Deno.test("parsePytorchBin() refuses an int64 tensor outside int32 with a RangeError naming it", () => {
  const t: FixtureTensor = {
    name: "deberta.embeddings.position_ids",
    storageType: "LongStorage",
    key: "0",
    numel: 1,
    offset: 0,
    size: [1],
    stride: [1],
  };
  const data = new Uint8Array(new BigInt64Array([1n << 40n]).buffer);
  assert.throws(
    () => parsePytorchBin(torchZip(stateDictPickle([t], 2), { "0": data }), "l.bin"),
    (e: unknown) =>
      e instanceof RangeError && /position_ids/.test(e.message) && /l\.bin/.test(e.message),
  );
});

Deno.test("parsePytorchBin() refuses a corrupted or truncated zip naming the file", () => {
  assertFormatError(
    () => parsePytorchBin(goldenBin.subarray(0, goldenBin.length >> 1), "half.bin"),
    "half.bin",
  );
  // torch writes zip64: smash the central directory offset in the zip64 end record
  const corrupt = goldenBin.slice();
  const dv = new DataView(corrupt.buffer);
  const eocd = corrupt.length - 22;
  assert.equal(dv.getUint32(eocd, true), 0x06054b50);
  assert.equal(dv.getUint32(eocd - 20, true), 0x07064b50); // zip64 locator
  const zip64 = Number(dv.getBigUint64(eocd - 12, true));
  const directory = Number(dv.getBigUint64(zip64 + 48, true));
  dv.setBigUint64(zip64 + 48, 0xfffffff0n, true);
  assertFormatError(() => parsePytorchBin(corrupt, "cd.bin"), "cd.bin");
  // an unknown compression method on data.pkl (the first central directory record)
  const method = goldenBin.slice();
  const mv = new DataView(method.buffer);
  assert.equal(mv.getUint32(directory, true), 0x02014b50);
  mv.setUint16(directory + 10, 99, true);
  assertFormatError(
    () => parsePytorchBin(method, "m.bin"),
    "m.bin:pytorch_model/data.pkl",
    "method 99",
  );
  // a flipped opcode inside data.pkl (re-zipped so the checksums are right and the pickle
  // reader, not the CRC check, has to refuse it)
  const entries = unzipSync(goldenBin);
  const pickled = entries["pytorch_model/data.pkl"]!.slice();
  pickled[new TextDecoder("latin1").decode(pickled).indexOf("ctorch._utils")] = 0x69; // GLOBAL → INST
  const pkl = zipSync({ ...entries, "pytorch_model/data.pkl": pickled }, { level: 0 });
  assertFormatError(() => parsePytorchBin(pkl, "op.bin"), "op.bin:pytorch_model/data.pkl", "INST");
  assertFormatError(
    () => parsePytorchBin(new TextEncoder().encode("hello"), "text.bin"),
    "torch zip",
  );
  assertFormatError(
    () => parsePytorchBin(zipSync({ "a.txt": new Uint8Array(1) }), "nopkl.bin"),
    "data.pkl",
  );
});

Deno.test("parsePytorchBin() refuses a deflated entry declaring an impossible size (zip bomb)", () => {
  const entries = unzipSync(goldenBin);
  const deflated = zipSync(entries, { level: 6 });
  assert.ok(parsePytorchBin(deflated, "ok.bin").size > 0, "a deflated torch zip still reads");
  // declare 1 GiB uncompressed for the first entry (data.pkl), in its local and central headers
  const bomb = deflated.slice();
  const dv = new DataView(bomb.buffer);
  assert.equal(dv.getUint32(0, true), 0x04034b50);
  dv.setUint32(22, 2 ** 30, true);
  let cd = bomb.length - 22;
  assert.equal(dv.getUint32(cd, true), 0x06054b50);
  cd = dv.getUint32(cd + 16, true);
  assert.equal(dv.getUint32(cd, true), 0x02014b50);
  dv.setUint32(cd + 24, 2 ** 30, true);
  assertFormatError(
    () => parsePytorchBin(bomb, "bomb.bin"),
    "bomb.bin:pytorch_model/data.pkl",
    "consistent sizes",
    "1073741824",
  );
});

Deno.test("parsePytorchBin() refuses the legacy (pre-1.6) format with advice", () => {
  // legacy torch.save starts with the pickled magic number 0x1950a86a20f9469cfc6c
  const legacy = new Uint8Array([
    0x80,
    0x02,
    0x8a,
    0x0a,
    0x6c,
    0xfc,
    0x9c,
    0x46,
    0xf9,
    0x20,
    0x6a,
    0xa8,
    0x50,
    0x19,
  ]);
  assertFormatError(() => parsePytorchBin(legacy, "old.bin"), "legacy", "safetensors", "old.bin");
});

Deno.test("parsePytorchBin() on mutated or truncated golden bytes only throws typed errors", () => {
  // the pickle is the first entry (bytes ~40..4800); the central directory is the last ~3 KiB
  const region = fc.constantFrom("pickle", "directory", "anywhere");
  const mutation = fc.record({
    region,
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    }),
    cut: fc.option(fc.nat({ max: goldenBin.length }), { nil: undefined, freq: 5 }),
  });
  let errors = 0;
  fc.assert(
    fc.property(mutation, ({ region, edits, cut }) => {
      const bytes = goldenBin.slice();
      for (const [n, value] of edits) {
        const at = region === "pickle"
          ? 30 + (n % 4800)
          : region === "directory"
          ? bytes.length - 1 - (n % 3200)
          : n % bytes.length;
        bytes[at] = value;
      }
      const input = cut === undefined ? bytes : bytes.subarray(0, cut);
      try {
        const sd = parsePytorchBin(input, "mutated.bin");
        for (const t of sd.values()) {
          assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
        }
      } catch (error) {
        errors++;
        assert.ok(
          error instanceof CheckpointFormatError || error instanceof RangeError,
          `untyped: ${error}`,
        );
      }
    }),
    { seed: 20261128, numRuns: 200 },
  );
  assert.ok(errors > 20, `mutations should often be refused: ${errors} of 200`);
});

Deno.test("parsePytorchBin() refuses a flipped bit inside stored weight data (CRC-32)", () => {
  // Arrange: find the local header of the first storage entry and flip one bit of its payload.
  const name = new TextEncoder().encode("pytorch_model/data/0");
  const view = new DataView(goldenBin.buffer, goldenBin.byteOffset, goldenBin.byteLength);
  let header = -1;
  for (let i = 0; i + 30 + name.length < goldenBin.length; i++) {
    if (view.getUint32(i, true) !== 0x04034b50) continue;
    const n = view.getUint16(i + 26, true);
    if (n === name.length && name.every((b, j) => goldenBin[i + 30 + j] === b)) {
      header = i;
      break;
    }
  }
  assert.ok(header >= 0, "golden file holds pytorch_model/data/0");
  assert.equal(view.getUint16(header + 8, true), 0, "the entry is stored, not deflated");
  const payload = header + 30 + name.length + view.getUint16(header + 28, true);
  const corrupted = goldenBin.slice();
  corrupted[payload + 5]! ^= 0x10;
  // Act + Assert
  assertFormatError(() => parsePytorchBin(corrupted, "bad.bin"), "bad.bin", "CRC-32", "corrupted");
  assert.doesNotThrow(() => parsePytorchBin(goldenBin, GOLDEN_BIN));
});
