/**
 * Input checks shared by the metrics.
 *
 * @internal
 * @module
 */

/** Checks two arrays of equal, non-zero length; names the metric in errors. @internal */
export function checkLabelPair(
  metric: string,
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
): void {
  if (typeof labels?.length !== "number" || typeof predictions?.length !== "number") {
    throw new TypeError(
      `Cannot compute ${metric} as labels and predictions must be arrays: current values are ${typeof labels} and ${typeof predictions}`,
    );
  }
  if (labels.length !== predictions.length) {
    throw new TypeError(
      `Cannot compute ${metric} as predictions must have one entry per label: current lengths are ${predictions.length} predictions and ${labels.length} labels`,
    );
  }
  if (labels.length === 0) {
    throw new RangeError(
      `Cannot compute ${metric} as there must be at least one example: current value is 0`,
    );
  }
}
