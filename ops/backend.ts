/**
 * Choosing and initialising the TensorFlow.js backend. Never falls back silently.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
// Copy-free Slice / Unpack / SplitV on wasm (bit-identical, much faster): see its module doc.
import "./wasm_kernels.ts";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { activeBackend, initPending } from "./_ready.ts";

/**
 * Backends this package knows how to initialise.
 *
 * @example Every name is one of BACKEND_NAMES
 * ```ts
 * import type { BackendName } from "./backend.ts";
 * import { BACKEND_NAMES } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const name: BackendName = "cpu";
 * assert.ok(BACKEND_NAMES.includes(name));
 * assert.equal(BACKEND_NAMES.length, 5);
 * ```
 */
export type BackendName = "wasm" | "cpu" | "webgpu" | "tensorflow" | "tensorflow-gpu";

/**
 * The backends, default first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BACKEND_NAMES } from "./backend.ts";
 *
 * assert.equal(BACKEND_NAMES[0], "wasm");
 * ```
 */
export const BACKEND_NAMES: readonly BackendName[] = [
  "wasm",
  "cpu",
  "webgpu",
  "tensorflow",
  "tensorflow-gpu",
];

/**
 * What each backend is for, one line each (the `--backend` help of every CLI). Speeds are those
 * measured on this project's 2-core machine (README, "Backends").
 *
 * @example Every backend has a line
 * ```ts
 * import assert from "node:assert/strict";
 * import { BACKEND_HELP, BACKEND_NAMES } from "./backend.ts";
 *
 * assert.deepEqual(Object.keys(BACKEND_HELP), [...BACKEND_NAMES]);
 * assert.match(BACKEND_HELP.webgpu, /--unstable-webgpu/);
 * ```
 */
export const BACKEND_HELP: Readonly<Record<BackendName, string>> = Object.freeze({
  wasm: "default; CPU (WebAssembly SIMD): the demo, tests and small models (demo step 0.14 s here)",
  cpu: "pure JavaScript reference, no heap limit; about 40x slower than wasm",
  webgpu:
    "GPU through WebGPU (the deno tasks pass --unstable-webgpu); without a GPU only a software adapter, for correctness checks (llvmpipe: demo step 6.8 s here, about 50x slower than wasm)",
  tensorflow: "native libtensorflow on the CPU (npm:@tensorflow/tfjs-node, install it first)",
  "tensorflow-gpu":
    "native libtensorflow with CUDA (npm:@tensorflow/tfjs-node-gpu, install it first)",
});

/**
 * The `--backend` help: the names and one line per backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backendHelp } from "./backend.ts";
 *
 * assert.match(backendHelp(), /^TensorFlow\.js backend \(default wasm\): wasm = default/);
 * ```
 *
 * @returns One paragraph.
 */
export function backendHelp(): string {
  return `TensorFlow.js backend (default wasm): ${
    BACKEND_NAMES.map((n) => `${n} = ${BACKEND_HELP[n]}`).join("; ")
  }`;
}

/**
 * What is active after `initBackend`.
 *
 * @example What `initBackend("cpu")` reports
 * ```ts
 * import type { BackendInfo } from "./backend.ts";
 * import { initBackend } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const info: BackendInfo = await initBackend("cpu");
 * assert.deepEqual([info.name, info.requested, info.packageName], ["cpu", "cpu", "@tensorflow/tfjs-backend-cpu"]);
 * assert.equal(info.summary, `backend cpu (tfjs ${info.tfjsVersion}, @tensorflow/tfjs-backend-cpu)`);
 * await initBackend("wasm");
 * ```
 */
export interface BackendInfo {
  /** Active backend name as tfjs reports it. */
  readonly name: string;
  /** Requested backend. */
  readonly requested: BackendName;
  /** `@tensorflow/tfjs-core` version. */
  readonly tfjsVersion: string;
  /** The npm package that provides the backend. */
  readonly packageName: string;
  /** One line for run logs, e.g. `backend wasm (tfjs 4.22.0, @tensorflow/tfjs-backend-wasm)`. */
  readonly summary: string;
  /** On `webgpu`: the adapter that runs it. */
  readonly adapter?: WebGpuAdapterInfo;
}

/**
 * The WebGPU adapter behind the `webgpu` backend, as `GPUAdapter.info` reports it.
 *
 * @example A software adapter
 * ```ts
 * import type { WebGpuAdapterInfo } from "./backend.ts";
 * import { describeAdapter } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const info: WebGpuAdapterInfo = {
 *   vendor: "65541", architecture: "", device: "0",
 *   description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true,
 * };
 * assert.equal(describeAdapter(info), "llvmpipe (LLVM 15.0.6, 256 bits), software adapter");
 * ```
 */
export interface WebGpuAdapterInfo {
  /** Vendor name or PCI id. */
  readonly vendor: string;
  /** Architecture, often empty. */
  readonly architecture: string;
  /** Device name or id. */
  readonly device: string;
  /** Driver's description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` or the GPU's name. */
  readonly description: string;
  /** `true` for a software (CPU) rasteriser such as Mesa's llvmpipe. */
  readonly isFallbackAdapter: boolean;
}

/**
 * One line naming a WebGPU adapter, with `software adapter` when it is a fallback (CPU) one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeAdapter } from "./backend.ts";
 *
 * const gpu = { vendor: "nvidia", architecture: "hopper", device: "", description: "", isFallbackAdapter: false };
 * assert.equal(describeAdapter(gpu), "nvidia hopper");
 * ```
 *
 * @param info The adapter.
 * @returns A short description.
 */
export function describeAdapter(info: WebGpuAdapterInfo): string {
  const name = info.description !== ""
    ? info.description
    : [info.vendor, info.architecture, info.device].filter((s) => s !== "").join(" ");
  return info.isFallbackAdapter ? `${name}, software adapter` : name;
}

interface GpuHandle {
  readonly adapter: GPUAdapter;
  readonly info: WebGpuAdapterInfo;
}

let gpuHandle: GpuHandle | undefined;

/**
 * Finds a WebGPU adapter on `gpu` (default `navigator.gpu`). Throws one clear error when the
 * runtime has no WebGPU (`navigator.gpu` missing: Deno before 2.x's stable WebGPU needs
 * `--unstable-webgpu`, which the deno tasks pass) or `requestAdapter()` returns null (no GPU
 * driver and no software Vulkan such as Mesa's llvmpipe); `initBackend("webgpu")` calls it and
 * never falls back to another backend.
 *
 * @example What a machine without an adapter gets
 * ```ts
 * import assert from "node:assert/strict";
 * import { findWebGpuAdapter } from "./backend.ts";
 *
 * await assert.rejects(() => findWebGpuAdapter({}), /--unstable-webgpu/);
 * const gpu = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
 * await assert.rejects(() => findWebGpuAdapter({ gpu }), /requestAdapter\(\) must return an adapter/);
 * ```
 *
 * @param nav Where `gpu` is looked up (default `navigator`; injectable for tests).
 * @returns The adapter and its description.
 */
export async function findWebGpuAdapter(
  nav: { readonly gpu?: GPU } = (globalThis.navigator ?? {}) as { gpu?: GPU },
): Promise<{ readonly adapter: GPUAdapter; readonly info: WebGpuAdapterInfo }> {
  const gpu = nav.gpu;
  if (gpu === undefined) {
    throw new TypeError(
      `Cannot initialise backend "webgpu" as navigator.gpu must exist: run Deno with --unstable-webgpu (the deno tasks pass it)`,
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) {
    throw new TypeError(
      `Cannot initialise backend "webgpu" as navigator.gpu.requestAdapter() must return an adapter: it returned null (no GPU driver or Vulkan/Metal/DX12 loader, nor a software one such as Mesa's llvmpipe, is available); use --backend wasm`,
    );
  }
  const raw = adapter.info;
  return {
    adapter,
    info: {
      vendor: raw.vendor,
      architecture: raw.architecture,
      device: raw.device,
      description: raw.description,
      isFallbackAdapter: (raw as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    },
  };
}

/** The process's adapter, found once. */
async function webGpuAdapter(): Promise<GpuHandle> {
  if (gpuHandle === undefined) gpuHandle = await findWebGpuAdapter();
  return gpuHandle;
}

/** The factory of `@tensorflow/tfjs-backend-webgpu`, on the adapter found by webGpuAdapter(). */
async function createWebGpuBackend(): Promise<WebGPUBackend> {
  const { adapter } = await webGpuAdapter();
  const features: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) features.push("timestamp-query");
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  device.addEventListener("uncapturederror", (event) => {
    // A failed pipeline or dispatch leaves its output undefined: say so on stderr, every time.
    console.error(
      `triadapt: WebGPU error (results of this step are wrong): ${
        (event as GPUUncapturedErrorEvent).error.message
      }`,
    );
  });
  return new WebGPUBackend(device, adapter.info);
}

/**
 * `AddN` on webgpu binds every input as a storage buffer of one shader; past the device's
 * `maxStorageBuffersPerShaderStage` (8 by default, one of them the output) the pipeline is invalid
 * and the result is garbage. This kernel sums in groups that fit, with the original kernel.
 */
function chunkedAddN(): void {
  const original = tf.getKernel(tf.AddN, "webgpu");
  if (original === undefined) return;
  const addN = original.kernelFunc;
  tf.unregisterKernel(tf.AddN, "webgpu");
  tf.registerKernel({
    kernelName: tf.AddN,
    backendName: "webgpu",
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const backend = args.backend as WebGPUBackend;
      const group = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
      if (inputs.length <= group) return addN(args);
      let acc = addN({
        ...args,
        inputs: inputs.slice(0, group) as unknown as tf.NamedTensorInfoMap,
      }) as tf.TensorInfo;
      for (let i = group; i < inputs.length; i += group - 1) {
        const next = addN({
          ...args,
          inputs: [acc, ...inputs.slice(i, i + group - 1)] as unknown as tf.NamedTensorInfoMap,
        }) as tf.TensorInfo;
        backend.disposeData(acc.dataId);
        acc = next;
      }
      return acc;
    },
  });
}

// Importing @tensorflow/tfjs-backend-webgpu registers "webgpu" (when navigator.gpu exists) at
// priority 3, above wasm: tfjs would then pick it whenever no backend was chosen. Register it again
// below cpu (1) so that it is only ever used when asked for, with a factory on our adapter check.
if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu");
tf.registerBackend("webgpu", createWebGpuBackend, 0);
chunkedAddN();

const NATIVE: Readonly<Record<"tensorflow" | "tensorflow-gpu", string>> = {
  "tensorflow": "@tensorflow/tfjs-node",
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
};

// One literal specifier per native package (pinned in deno.json `imports`): `deno publish`
// rewrites them to their `npm:` form, so they resolve from JSR too. Loaded only when chosen.
const NATIVE_IMPORT: Readonly<Record<"tensorflow" | "tensorflow-gpu", () => Promise<unknown>>> = {
  "tensorflow": () => import("@tensorflow/tfjs-node"),
  "tensorflow-gpu": () => import("@tensorflow/tfjs-node-gpu"),
};

function importNative(backend: BackendName): Promise<unknown> {
  return backend === "tensorflow" || backend === "tensorflow-gpu"
    ? NATIVE_IMPORT[backend]()
    : Promise.reject(new TypeError(`${backend} is not a native backend`));
}

function packageOf(name: BackendName): string {
  switch (name) {
    case "wasm":
      return "@tensorflow/tfjs-backend-wasm";
    case "cpu":
      return "@tensorflow/tfjs-backend-cpu";
    case "webgpu":
      return "@tensorflow/tfjs-backend-webgpu";
    default:
      return NATIVE[name];
  }
}

function installHint(pkg: string): string {
  return `install it with \`deno add npm:${pkg}@4.22.0\` and allow its native build with \`deno install --allow-scripts=npm:${pkg}\``;
}

/**
 * Dynamically imports a package by bare specifier; a package that is not installed (or has no
 * native binding) gives a `TypeError` naming the backend and how to install it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importBackendPackage } from "./backend.ts";
 *
 * await assert.rejects(
 *   () => importBackendPackage("tensorflow", "pkg", () => Promise.reject(new Error("missing"))),
 *   TypeError,
 * );
 * ```
 *
 * @param backend Backend name for the message.
 * @param specifier Package specifier.
 * @param importer Import function (injectable for tests); default: the backend's own literal
 *   `import()` of its pinned package.
 */
export async function importBackendPackage(
  backend: BackendName,
  specifier: string,
  importer?: (specifier: string) => Promise<unknown>,
): Promise<void> {
  try {
    await (importer === undefined ? importNative(backend) : importer(specifier));
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw new TypeError(
      `Cannot initialise backend "${backend}" as package ${specifier} must be installed: ${
        installHint(specifier)
      } (import failed: ${why})`,
      { cause },
    );
  }
}

/**
 * Initialises a backend and checks that it is really active: `wasm` (default), `cpu`, `webgpu`
 * (`@tensorflow/tfjs-backend-webgpu` on `navigator.gpu`; Deno needs `--unstable-webgpu`; without
 * an adapter it throws, never falling back), or, when installed, `tensorflow`
 * (`@tensorflow/tfjs-node`) / `tensorflow-gpu` (`@tensorflow/tfjs-node-gpu`), loaded by dynamic
 * import.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "./backend.ts";
 *
 * const info = await initBackend("cpu");
 * assert.equal(info.name, "cpu");
 * await initBackend("wasm");
 * ```
 *
 * @param name Requested backend; default `"wasm"`.
 * @param importer Import function for the native packages (injectable for tests); default
 * `import()`.
 * @returns What is active.
 */
export async function initBackend(
  name: BackendName = "wasm",
  importer?: (specifier: string) => Promise<unknown>,
): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new TypeError(
      `Cannot initialise backend as name must be one of ${
        BACKEND_NAMES.join(", ")
      }: current value is ${name}`,
    );
  }
  const pkg = packageOf(name);
  if (name === "tensorflow" || name === "tensorflow-gpu") {
    await importBackendPackage(name, pkg, importer);
  }
  // One clear error when there is no WebGPU adapter (tf.setBackend would only warn).
  const adapter = name === "webgpu" ? (await webGpuAdapter()).info : undefined;
  // tfjs-node-gpu registers its backend under the name "tensorflow" as well.
  const tfName = name === "tensorflow-gpu" ? "tensorflow" : name;
  let ok = false;
  try {
    ok = await tf.setBackend(tfName);
    await tf.ready();
  } catch (cause) {
    throw new TypeError(
      `Cannot initialise backend "${name}" as tf.setBackend("${tfName}") must succeed: ${
        installHint(pkg)
      }`,
      { cause },
    );
  }
  if (!ok || tf.getBackend() !== tfName) {
    throw new TypeError(
      `Cannot initialise backend "${name}" as tf.setBackend("${tfName}") must return true: current backend is ${tf.getBackend()}; ${
        installHint(pkg)
      }`,
    );
  }
  const tfjsVersion = tf.version_core;
  const on = adapter === undefined ? "" : `, adapter ${describeAdapter(adapter)}`;
  return {
    name: tf.getBackend(),
    requested: name,
    tfjsVersion,
    packageName: pkg,
    summary: `backend ${name} (tfjs ${tfjsVersion}, ${pkg}${on})`,
    ...(adapter === undefined ? {} : { adapter }),
  };
}

export { requireBackend } from "./_ready.ts";

/**
 * Makes sure a backend is ready: waits for an initialisation in progress, and when no backend is
 * active initialises the default one (`initBackend()`, i.e. `wasm`). A backend already chosen
 * (by `initBackend` or `tf.setBackend`) is kept. Asynchronous entry points (`loadModel`,
 * `adaptModel`, `runTraining`, …) call it, so library users need no explicit `initBackend()`.
 *
 * @example Keeps the backend already chosen
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureBackend, initBackend } from "./backend.ts";
 *
 * await initBackend("cpu");
 * assert.equal(await ensureBackend(), "cpu");
 * await initBackend("wasm");
 * assert.equal(await ensureBackend(), "wasm");
 * ```
 *
 * @returns The active backend's name.
 */
export async function ensureBackend(): Promise<string> {
  if (!activeBackend()) {
    if (initPending()) await tf.ready().catch(() => {});
    if (!activeBackend()) await initBackend();
  }
  return tf.getBackend();
}
