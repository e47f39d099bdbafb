/**
 * Helpers of the webgpu tests: whether this machine has a WebGPU adapter (the tests are ignored,
 * with the reason printed, when it has none, unless `TRIADAPT_REQUIRE_WEBGPU=1`, as `.ci/run`
 * sets, makes them fail instead), backend switching, and asynchronous reads (a synchronous read
 * of a GPU tensor is slow on webgpu and impossible in a worker).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../../../ops/backend.ts";

/** Why webgpu cannot run here, or undefined when an adapter was found. */
async function missingReason(): Promise<string | undefined> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) {
    return "navigator.gpu is undefined (run deno test with --unstable-webgpu, as `deno task test` does)";
  }
  const adapter = await gpu.requestAdapter();
  if (adapter === null) {
    return "navigator.gpu.requestAdapter() returned null (no GPU driver nor software Vulkan such as Mesa's llvmpipe)";
  }
  return undefined;
}

const reason = await missingReason();
const required = Deno.env.get("TRIADAPT_REQUIRE_WEBGPU") === "1";
if (reason !== undefined && !required) {
  console.log(`webgpu tests ignored: ${reason}`);
}

/**
 * `ignore` for Deno.test: true when no adapter is found and TRIADAPT_REQUIRE_WEBGPU is not 1
 * (with it, the tests run and fail on initBackend's error).
 */
export const IGNORE_WEBGPU: boolean = reason !== undefined && !required;

/** Switches the active backend (initBackend checks it is really active). */
export async function use(name: BackendName): Promise<void> {
  await initBackend(name);
}

/** A tensor's values as a plain array, read asynchronously. */
export async function values(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
}

/** Max |a − b|, and max |b| (for relative statements). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Max |v|. */
export function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}
