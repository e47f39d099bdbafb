/**
 * Evaluation metrics that reproduce the trusted references: scikit-learn/SciPy for GLUE,
 * the official `evaluate-v2.0.py` for SQuAD 2.0.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { glueMetrics, squad2Evaluate } from "./mod.ts";
 *
 * const cola = glueMetrics("CoLA", [1, 0, 1, 1], [1, 0, 0, 1]);
 * assert.equal(cola.main, "matthews_corrcoef");
 * const squad = squad2Evaluate(
 *   [{ id: "q", title: "", question: "", context: "", answers: [], isImpossible: true }],
 *   { q: "" },
 * );
 * assert.equal(squad.NoAns_exact, 100);
 * ```
 *
 * @module
 */

export * from "./classification.ts";
export * from "./correlation.ts";
export * from "./glue_metrics.ts";
export * from "./squad2_normalize.ts";
export * from "./squad2_evaluate.ts";
