/**
 * Internal argument guards shared by the `core/` functions. Messages follow the std grammar
 * "Cannot X as Y must be Z: current value is V".
 *
 * @internal
 * @module
 */

/**
 * Formats a value for an error message (strings quoted, arrays and objects as JSON, everything
 * else via `String`).
 *
 * @param value Any value.
 * @returns Its text for "current value is V".
 *
 * @example Usage
 * ```ts
 * import { show } from "./_validate.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(show("x"), '"x"');
 * assert.equal(show([1, Number.NaN]), "[1, NaN]");
 * ```
 */
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

/**
 * Throws unless `value` is a finite number.
 *
 * @param action What the caller cannot do ("Cannot {action} as …").
 * @param name The argument or field name.
 * @param value The value to check.
 * @returns Nothing; narrows `value` to `number`.
 * @throws {TypeError} If `value` is not a number.
 * @throws {RangeError} If it is NaN or infinite.
 *
 * @example Usage
 * ```ts
 * import { assertFinite } from "./_validate.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => assertFinite("plan", "alpha", Number.NaN), {
 *   name: "RangeError",
 *   message: "Cannot plan as alpha must be a finite number: current value is NaN",
 * });
 * ```
 */
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

/**
 * Throws unless `value` is an integer `>= min`.
 *
 * @param action What the caller cannot do ("Cannot {action} as …").
 * @param name The argument or field name.
 * @param value The value to check.
 * @param min The smallest allowed value.
 * @returns Nothing; narrows `value` to `number`.
 * @throws {TypeError} If `value` is not a number.
 * @throws {RangeError} If it is not finite, not an integer, or below `min`.
 *
 * @example Usage
 * ```ts
 * import { assertInteger } from "./_validate.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => assertInteger("plan", "interval", 0, 1), {
 *   name: "RangeError",
 *   message: "Cannot plan as interval must be a positive integer: current value is 0",
 * });
 * ```
 */
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

/**
 * Throws unless `value` is an array of finite numbers of the given length.
 *
 * @param action What the caller cannot do ("Cannot {action} as …").
 * @param name The argument name (entries are reported as `name[i]`).
 * @param value The value to check.
 * @param length The required length.
 * @returns Nothing; narrows `value` to `readonly number[]`.
 * @throws {TypeError} If `value` is not an array or an entry is not a number.
 * @throws {RangeError} If the length differs or an entry is not finite.
 *
 * @example Usage
 * ```ts
 * import { assertFiniteArray } from "./_validate.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => assertFiniteArray("score", "norms", [1, Infinity], 2), {
 *   name: "RangeError",
 *   message: /norms\[1\] must be a finite number/,
 * });
 * ```
 */
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
