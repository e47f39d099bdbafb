/**
 * Backend readiness checks without side effects on import (unlike `backend.ts`, this module
 * registers no backend), for the synchronous entry points of `ops/` that create tensors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface EngineState {
  readonly backendInstance?: unknown;
  readonly pendingBackendInit?: unknown;
}

/**
 * Whether a backend is active and initialised (reads the engine; starts nothing).
 *
 * @internal
 * @returns `true` when tensors can be created on an active backend right now.
 */
export function activeBackend(): boolean {
  const engine = tf.engine() as unknown as EngineState;
  return engine.backendInstance != null && engine.pendingBackendInit == null;
}

/**
 * Whether an asynchronous backend initialisation is in progress.
 *
 * @internal
 * @returns `true` while tfjs waits for a backend (e.g. wasm) to finish initialising.
 */
export function initPending(): boolean {
  return (tf.engine() as unknown as EngineState).pendingBackendInit != null;
}

/**
 * Makes sure tensors can be created now, and otherwise throws a clear error naming
 * `await initBackend()` instead of tfjs's "backend 'wasm' has not yet been initialized". When the
 * best registered backend initialises synchronously (`cpu`), tfjs starts it as it always does.
 * Synchronous entry points that create tensors (adapters, the optimizer) call it first.
 *
 * @example After `initBackend` it does nothing
 * ```ts
 * import { initBackend, requireBackend } from "./backend.ts";
 *
 * await initBackend("wasm");
 * requireBackend("create my tensors");
 * ```
 *
 * @param what What the caller was about to do, for the message (`create adapter x`).
 * @throws {Error} An error named `BackendNotReadyError` when the backend tfjs would use is still
 * (or not yet) initialising asynchronously.
 */
export function requireBackend(what: string): void {
  if (activeBackend()) return;
  try {
    // The getter initialises the best registered backend, or throws when that is asynchronous.
    void tf.engine().backend;
  } catch (cause) {
    const error = new Error(
      `Cannot ${what} as a TensorFlow.js backend must be initialised first: call \`await initBackend()\` (default "wasm"; or initBackend("cpu")) once before creating models, adapters or optimizers`,
      { cause },
    );
    error.name = "BackendNotReadyError";
    throw error;
  }
}

/**
 * `ensureBackend()` of `backend.ts`, imported on first call, so that modules using it do not
 * register the wasm backend merely by being imported (a raw `tf.tensor` before any library call
 * keeps working on the synchronous `cpu` backend when nothing else registered `wasm`).
 *
 * @internal
 * @returns The active backend's name.
 */
export async function ensureDefaultBackend(): Promise<string> {
  const { ensureBackend } = await import("./backend.ts");
  return await ensureBackend();
}
