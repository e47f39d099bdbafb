/**
 * Internal helpers to move adapter variables to and from plain data.
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AdapterSnapshot, TensorData } from "./adapter.ts";

/**
 * Reads variables into plain float32 data (one `await data()` per tensor, no `dataSync`).
 *
 * @internal
 * @param vars Logical name → variable.
 * @returns Logical name → data.
 */
export async function readTensors(
  vars: Readonly<Record<string, tf.Tensor>>,
): Promise<Record<string, TensorData>> {
  const out: Record<string, TensorData> = {};
  for (const [key, v] of Object.entries(vars)) {
    const data = await v.data();
    out[key] = { shape: [...v.shape], data: new Float32Array(data) };
  }
  return out;
}

/**
 * A snapshot tensor's values, checked: present, of `shape`, holding as many values as the shape.
 * Each failure is an error naming the tensor.
 *
 * @internal
 * @param snapshot The snapshot.
 * @param key Logical tensor name.
 * @param shape The shape it must have.
 * @returns Its row-major values.
 */
export function snapshotData(
  snapshot: AdapterSnapshot,
  key: string,
  shape: readonly number[],
): Float32Array {
  const entry = snapshot.tensors[key];
  if (entry === undefined) {
    throw new TypeError(
      `Cannot restore adapter ${snapshot.name} as tensor ${key} must be present: current keys are ${
        Object.keys(snapshot.tensors).join(", ")
      }`,
    );
  }
  if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
    throw new TypeError(
      `Cannot restore adapter ${snapshot.name} as tensor ${key} must have shape [${shape}]: current shape is [${entry.shape}]`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (entry.data.length !== size) {
    throw new TypeError(
      `Cannot restore adapter ${snapshot.name} as tensor ${key} must hold ${size} values: current length is ${entry.data.length}`,
    );
  }
  return entry.data;
}

/**
 * Assigns snapshot data to a variable after checking the shape.
 *
 * @internal
 * @param snapshot The snapshot.
 * @param key Logical tensor name.
 * @param target The variable to overwrite.
 */
export function assignFrom(snapshot: AdapterSnapshot, key: string, target: tf.Variable): void {
  const data = snapshotData(snapshot, key, target.shape);
  tf.tidy(() => target.assign(tf.tensor(data, [...target.shape], "float32")));
}

/**
 * Checks a snapshot's method and name before restoring.
 *
 * @internal
 * @param snapshot The snapshot.
 * @param method Expected method.
 * @param name Expected module name.
 */
export function checkSnapshot(snapshot: AdapterSnapshot, method: string, name: string): void {
  if (snapshot.method !== method) {
    throw new TypeError(
      `Cannot restore adapter ${name} as snapshot method must be ${method}: current value is ${snapshot.method}`,
    );
  }
  if (snapshot.name !== name) {
    throw new TypeError(
      `Cannot restore adapter ${name} as snapshot name must match: current value is ${snapshot.name}`,
    );
  }
}
