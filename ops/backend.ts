/**
 * Choosing and initialising the TensorFlow.js backend. Never falls back silently.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
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
 * assert.equal(BACKEND_NAMES.length, 4);
 * ```
 */
export type BackendName = "wasm" | "cpu" | "tensorflow" | "tensorflow-gpu";

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
  "tensorflow",
  "tensorflow-gpu",
];

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
}

const NATIVE: Readonly<Record<"tensorflow" | "tensorflow-gpu", string>> = {
  "tensorflow": "@tensorflow/tfjs-node",
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
};

function packageOf(name: BackendName): string {
  switch (name) {
    case "wasm":
      return "@tensorflow/tfjs-backend-wasm";
    case "cpu":
      return "@tensorflow/tfjs-backend-cpu";
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
 * @param importer Import function (injectable for tests).
 */
export async function importBackendPackage(
  backend: BackendName,
  specifier: string,
  importer: (specifier: string) => Promise<unknown> = (s) => import(s),
): Promise<void> {
  try {
    await importer(specifier);
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
 * Initialises a backend and checks that it is really active: `wasm` (default), `cpu`, or, when
 * installed, `tensorflow` (`@tensorflow/tfjs-node`) / `tensorflow-gpu`
 * (`@tensorflow/tfjs-node-gpu`), loaded by dynamic import.
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
  return {
    name: tf.getBackend(),
    requested: name,
    tfjsVersion,
    packageName: pkg,
    summary: `backend ${name} (tfjs ${tfjsVersion}, ${pkg})`,
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
