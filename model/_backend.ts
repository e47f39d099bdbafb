/**
 * Backend readiness for `model/`: `model/` never imports `ops/`, so it keeps its own copy of the
 * checks in `ops/_ready.ts` and `ops/backend.ts` (`requireBackend`, `ensureBackend`), with the
 * same message and the same default backend (`wasm`). Importing this module registers no backend;
 * `ensureModelBackend` imports the wasm backend when it has to initialise one.
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface EngineState {
  readonly backendInstance?: unknown;
  readonly pendingBackendInit?: unknown;
}

function active(): boolean {
  const engine = tf.engine() as unknown as EngineState;
  return engine.backendInstance != null && engine.pendingBackendInit == null;
}

/**
 * Throws an error named `BackendNotReadyError`, naming `await initBackend()`, when the backend
 * tfjs would use is still (or not yet) initialising asynchronously; a synchronous backend
 * (`cpu`) is started by tfjs as usual.
 *
 * @internal
 * @param what What the caller was about to do (`create the DeBERTa model`).
 */
export function requireModelBackend(what: string): void {
  if (active()) return;
  try {
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
 * Waits for an initialisation in progress and, when no backend is active, initialises the
 * package's default one (`wasm`), as `ensureBackend()` of `ops/backend.ts` does.
 *
 * @internal
 */
export async function ensureModelBackend(): Promise<void> {
  if (active()) return;
  if ((tf.engine() as unknown as EngineState).pendingBackendInit != null) {
    await tf.ready().catch(() => {});
    if (active()) return;
  }
  await import("@tensorflow/tfjs-backend-wasm");
  // The copy-free Slice / Unpack / SplitV kernels (the one module of ops/ that model/ loads).
  await import("../ops/wasm_kernels.ts");
  if (!(await tf.setBackend("wasm"))) {
    throw new TypeError(
      `Cannot initialise the default backend as tf.setBackend("wasm") must succeed: call \`await initBackend("cpu")\` to use another backend`,
    );
  }
  await tf.ready();
}
