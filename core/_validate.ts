/**
 * Internal argument guards shared by the `core/` functions. Messages follow the std grammar
 * "Cannot X as Y must be Z: current value is V".
 *
 * @internal
 * @module
 */

/** Formats a value for an error message (strings quoted, everything else via `String`). */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

/** Throws unless `value` is a finite number. */
export function assertFinite(
  action: string,
  name: string,
  value: unknown,
): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action} as ${name} must be a number: current value is ${show(value)}`,
    );
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(
      `Cannot ${action} as ${name} must be a finite number: current value is ${show(value)}`,
    );
  }
}

/** Throws unless `value` is an integer `>= min`. */
export function assertInteger(
  action: string,
  name: string,
  value: unknown,
  min: number,
): asserts value is number {
  assertFinite(action, name, value);
  if (!Number.isInteger(value) || value < min) {
    const what = min === 0
      ? "a non-negative integer"
      : min === 1
      ? "a positive integer"
      : `an integer >= ${min}`;
    throw new RangeError(`Cannot ${action} as ${name} must be ${what}: current value is ${value}`);
  }
}

/** Throws unless `value` is an array of finite numbers of the given length. */
export function assertFiniteArray(
  action: string,
  name: string,
  value: unknown,
  length: number,
): asserts value is readonly number[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Cannot ${action} as ${name} must be an array: current value is ${show(value)}`,
    );
  }
  if (value.length !== length) {
    throw new RangeError(
      `Cannot ${action} as ${name} must have length ${length}: current length is ${value.length}`,
    );
  }
  value.forEach((v, i) => assertFinite(action, `${name}[${i}]`, v));
}
