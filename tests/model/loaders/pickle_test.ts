import assert from "node:assert/strict";
import {
  PickleGlobal,
  type PickleGlobalHandler,
  PickleOpaque,
  unpickle,
} from "../../../model/pickle.ts";
import { CheckpointFormatError } from "../../../model/safetensors.ts";

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g)!, (b) => parseInt(b, 16));
}

const NO_GLOBALS = new Map<string, PickleGlobalHandler>();

// pickle.dumps(V, protocol=p) from CPython 3.11 with
// V = [1, -2**40, 2**70, 2.5, 'é', b'xy', (1,2,3), (), {'k': None, 'n': [True, False]}, 300, 70000, -1]
const CPYTHON = {
  2: "80025d7100284b018a060000000000ff8a090000000000000000404740040000000000005802000000c3a97101635f636f646563730a656e636f64650a710258020000007879710358060000006c6174696e3171048671055271064b014b024b03877107297d71082858010000006b71094e58010000006e710a5d710b28888965754d2c014a701101004affffffff652e",
  4: "80049556000000000000005d94284b018a060000000000ff8a090000000000000000404740040000000000008c02c3a99443027879944b014b024b038794297d94288c016b944e8c016e945d9428888965754d2c014a701101004affffffff652e",
  5: "80059556000000000000005d94284b018a060000000000ff8a090000000000000000404740040000000000008c02c3a99443027879944b014b024b038794297d94288c016b944e8c016e945d9428888965754d2c014a701101004affffffff652e",
} as const;

function expectedValue(): unknown {
  return [
    1,
    -(2 ** 40),
    2n ** 70n,
    2.5,
    "é",
    new TextEncoder().encode("xy"),
    [1, 2, 3],
    [],
    new Map<unknown, unknown>([["k", null], ["n", [true, false]]]),
    300,
    70000,
    -1,
  ];
}

Deno.test("unpickle() matches CPython protocols 4 and 5 value for value", () => {
  for (const p of [4, 5] as const) {
    const value = unpickle(hex(CPYTHON[p]), { source: `p${p}`, globals: NO_GLOBALS });
    assert.deepEqual(value, expectedValue());
    assert.ok(Object.isFrozen((value as unknown[])[6]), "tuples are frozen");
    assert.ok(!Object.isFrozen(value), "lists are not");
  }
});

Deno.test("unpickle() resolves protocol 2 bytes only through an allow-listed _codecs.encode", () => {
  const bytes = hex(CPYTHON[2]);
  assert.throws(() => unpickle(bytes, { source: "p2", globals: NO_GLOBALS }), /_codecs\.encode/);
  const globals = new Map<string, PickleGlobalHandler>([["_codecs.encode", {
    call: ([text]) => Uint8Array.from(text as string, (c) => c.charCodeAt(0)),
  }]]);
  assert.deepEqual(unpickle(bytes, { source: "p2", globals }), expectedValue());
});

Deno.test("unpickle() keeps shared references through the memo", () => {
  // a = [1]; pickle.dumps([a, a], protocol=2)
  const value = unpickle(hex("80025d7100285d71014b01616801652e"), {
    source: "m",
    globals: NO_GLOBALS,
  });
  const [x, y] = value as unknown[][];
  assert.equal(x, y);
  assert.deepEqual(x, [1]);
});

Deno.test("unpickle() builds an OrderedDict through its handler (protocol 2 and 4)", () => {
  const globals = new Map<string, PickleGlobalHandler>([["collections.OrderedDict", {
    call: () => new Map(),
  }]]);
  for (
    const h of [
      "800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01732e",
      "80049529000000000000008c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c0161944b01732e",
    ]
  ) {
    assert.deepEqual(unpickle(hex(h), { source: "od", globals }), new Map([["a", 1]]));
  }
});

Deno.test("unpickle() refuses globals outside the allow-list, naming them, before anything runs", () => {
  let called = false;
  const globals = new Map<string, PickleGlobalHandler>([["collections.OrderedDict", {
    call: () => {
      called = true;
      return new Map();
    },
  }]]);
  // pickle.dumps(os.system, protocol=2) on Linux
  assert.throws(
    () =>
      unpickle(hex("800263706f7369780a73797374656d0a71002e"), {
        source: "f.bin:data.pkl",
        globals,
      }),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointFormatError);
      assert.match(
        e.message,
        /^Cannot unpickle f\.bin:data\.pkl as global posix\.system must be allow-listed/,
      );
      assert.equal(e.source, "f.bin:data.pkl");
      return true;
    },
  );
  // class E: __reduce__ = lambda self: (eval, ("1+1",)); pickle.dumps(E(), protocol=4)
  assert.throws(
    () =>
      unpickle(
        hex("8004951f000000000000008c086275696c74696e73948c046576616c9493948c03312b3194859452942e"),
        { source: "e", globals },
      ),
    /builtins\.eval/,
  );
  assert.equal(called, false);
});

Deno.test("unpickle() passes persistent ids to persistentLoad and refuses them without it", () => {
  // (BINPERSID on the tuple ('storage', 7)) STOP
  const bytes = hex("80028c0773746f726167654b0786512e");
  const value = unpickle(bytes, {
    source: "p",
    globals: NO_GLOBALS,
    persistentLoad: (pid) => new PickleOpaque("storage", pid),
  });
  assert.ok(value instanceof PickleOpaque);
  assert.deepEqual(value.value, ["storage", 7]);
  assert.throws(() => unpickle(bytes, { source: "p", globals: NO_GLOBALS }), CheckpointFormatError);
});

Deno.test("unpickle() refuses truncation, a missing STOP, stack underflow and bad memo reads", () => {
  const full = hex(CPYTHON[4]);
  for (const cut of [1, 5, 20, full.length - 1]) {
    assert.throws(
      () => unpickle(full.subarray(0, cut), { source: "t", globals: NO_GLOBALS }),
      CheckpointFormatError,
    );
  }
  assert.throws(
    () => unpickle(hex("80022e"), { source: "u", globals: NO_GLOBALS }),
    /stack must hold a value/,
  );
  assert.throws(
    () => unpickle(hex("8002680a2e"), { source: "g", globals: NO_GLOBALS }),
    /memo index/,
  );
  assert.throws(
    () => unpickle(hex("80024b014b022e"), { source: "s", globals: NO_GLOBALS }),
    /empty at STOP/,
  );
  assert.throws(
    () => unpickle(hex("8006"), { source: "v", globals: NO_GLOBALS }),
    /protocol must be at most 5/,
  );
  assert.throws(
    () => unpickle(hex("8002ff"), { source: "o", globals: NO_GLOBALS }),
    /0xff at offset 2/,
  );
});

Deno.test("PickleGlobal names its dotted path", () => {
  assert.equal(`${new PickleGlobal("torch", "FloatStorage")}`, "torch.FloatStorage");
});
