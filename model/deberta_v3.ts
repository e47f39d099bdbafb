/**
 * The DeBERTa-v2/v3 encoder (Hugging Face `deberta-v2` architecture) with its task heads and
 * adapter hooks, on TensorFlow.js.
 *
 * - Base weights are plain tensors, held once, frozen; the heads (`pooler.dense` + `classifier`,
 *   or `qa_outputs`) are the model's only `tf.Variable`s.
 * - Every encoder linear computes `x·W0ᵀ + b + delta(x)` when an adapter is set; `W0 + ΔW` is
 *   never formed.
 * - Embedding lookups (`gather`) act on frozen tensors only, so they stay outside the gradient
 *   path (the wasm backend has no `gather` gradient); relative-position scores use a
 *   reshape/slice shift instead of `gather`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { DebertaConfig } from "./config.ts";
import type { LinearDelta } from "./linear_adapter.ts";
import type { DebertaHead } from "./state_dict.ts";
import { geluErf } from "./activations.ts";
import {
  disentangledAttentionBackward,
  type DisentangledAttentionInputs,
  disentangledAttentionWithProbs,
} from "./attention.ts";
import { relativeEmbeddingRows } from "./relative_position.ts";
import { frozenLinear, matMulPlain, transposedProductsFast } from "./_matmul.ts";
import { requireModelBackend } from "./_backend.ts";
import { type CustomVjp, LayerRecorder, withOuterTape } from "./selective_layer.ts";
import { seededDropout } from "./_dropout.ts";

/**
 * A weight as the checkpoint readers return it (`RawTensor` fits).
 *
 * @example A random classifier weight
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { WeightTensor } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const w: WeightTensor = randomDebertaWeights(config, 1).get("classifier.weight")!;
 * assert.deepEqual(w.shape, [2, 8]);
 * assert.equal(w.data.length, 2 * 8);
 * ```
 */
export interface WeightTensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Row-major values. */
  readonly data: Float32Array | Int32Array;
}

/**
 * Weights by Hugging Face name (`deberta.encoder.layer.0.attention.self.query_proj.weight`, …).
 *
 * @example A plain record works as well as a map
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { DebertaWeights } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const weights: DebertaWeights = Object.fromEntries(randomDebertaWeights(config, 1));
 * const model = createDebertaModel(config, weights);
 * assert.equal(model.head, "classification"); // inferred from `classifier.weight` [2, 8]
 * model.dispose();
 * ```
 */
export type DebertaWeights =
  | ReadonlyMap<string, WeightTensor>
  | Readonly<Record<string, WeightTensor>>;

/**
 * Options of {@link createDebertaModel}.
 *
 * @example A headless encoder with dropout
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { DebertaModelOptions } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const options: DebertaModelOptions = { head: "none", hiddenDropout: 0.1, seed: 5 };
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1), options);
 * assert.equal(model.head, "none");
 * assert.equal(model.trainableVariables().length, 0); // no head, no variables
 * model.dispose();
 * ```
 */
export interface DebertaModelOptions {
  /**
   * Task head (`state_dict.ts` `DebertaHead`): `"classification"` / `"regression"` are HF
   * `DebertaV2ForSequenceClassification` (ContextPooler + `classifier`, regression = 1 output),
   * `"question-answering"` is `DebertaV2ForQuestionAnswering` (`qa_outputs` on every token),
   * `"none"` has no head. Default: from the weights (`qa_outputs`, else `classifier` (1 output:
   * regression), else none).
   */
  readonly head?: DebertaHead;
  /**
   * Dropout on hidden states, embeddings and relative embeddings in training mode. Default 0
   * (HF trains with `config.hiddenDropoutProb`, 0.1 for DeBERTa-v3-base: pass it to match).
   */
  readonly hiddenDropout?: number;
  /** Dropout on attention probabilities in training mode. Default 0 (HF: `config.attentionProbsDropoutProb`). */
  readonly attentionDropout?: number;
  /** Dropout on the `[CLS]` state before `pooler.dense` in training mode. Default `config.poolerDropout`. */
  readonly poolerDropout?: number;
  /**
   * Dropout between the pooler and the classifier in training mode. Default `config.clsDropout`,
   * else `hiddenDropout` (HF `DebertaV2ForSequenceClassification`: `cls_dropout` else
   * `hidden_dropout_prob`).
   */
  readonly classifierDropout?: number;
  /** Seed of the dropout masks (training forwards without their own seed draw from it). Default 0. */
  readonly seed?: number;
}

/**
 * Token ids, masks or token types: `number[][]` or an int32 `[batch, seq]` tensor.
 *
 * @example An int32 tensor of ids
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { IdsInput } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const inputIds: IdsInput = tf.tensor2d([[1, 5, 2]], [1, 3], "int32");
 * const out = model.forward({ inputIds });
 * assert.deepEqual(out.lastHiddenState.shape, [1, 3, 8]);
 * tf.dispose([inputIds, out.logits, out.lastHiddenState]);
 * model.dispose();
 * ```
 */
export type IdsInput = readonly (readonly number[])[] | tf.Tensor2D;

/**
 * The inputs of {@link DebertaModel.forward}.
 *
 * @example A padded batch of two
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { DebertaInputs } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const inputs: DebertaInputs = { inputIds: [[1, 5, 2], [1, 2, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]] };
 * const out = model.forward(inputs);
 * assert.deepEqual(out.logits.shape, [2, 2]);
 * tf.dispose([out.logits, out.lastHiddenState]);
 * model.dispose();
 * ```
 */
export interface DebertaInputs {
  /** Token ids, `[batch, seq]`. */
  readonly inputIds: IdsInput;
  /** 1 for real tokens, 0 for padding, `[batch, seq]`; default all ones. */
  readonly attentionMask?: IdsInput;
  /** Segment ids, `[batch, seq]`; used only when `typeVocabSize > 0`; default zeros. */
  readonly tokenTypeIds?: IdsInput;
}

/**
 * Options of {@link DebertaModel.forward}.
 *
 * @example Every layer's output
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { ForwardOptions } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const options: ForwardOptions = { outputHiddenStates: true };
 * const out = model.forward({ inputIds: [[1, 5, 2]] }, options);
 * assert.equal(out.hiddenStates?.length, 2); // embeddings + 1 layer
 * assert.equal(out.hiddenStates?.[1], out.lastHiddenState);
 * tf.dispose([out.logits, ...out.hiddenStates!]);
 * model.dispose();
 * ```
 */
export interface ForwardOptions {
  /** Also return the embedding output and every layer's output. Default false. */
  readonly outputHiddenStates?: boolean;
  /** Training mode: dropout active and adapters called with `training = true`. Default false. */
  readonly training?: boolean;
  /** Seed of this forward's dropout masks; default: the next seed of the model's own sequence. */
  readonly seed?: number;
  /**
   * Activation recomputation in training forwards (default: the model's
   * {@link DebertaModel.setRecompute}); see {@link Recompute}.
   */
  readonly recompute?: Recompute;
}

/**
 * How a training forward keeps activations for the backward pass (docs/METHOD.md §22):
 * `false`, every activation tfjs's tape saves; `true`, only each encoder layer's input (the
 * whole layer runs again inside its gradient); `"selective"`, each layer's linear inputs and
 * outputs (a few `[rows, hidden]` tensors and the FFN activation): the frozen linears' backward
 * is one product with the weight each; GELU and dropout run again, and the attention core and
 * LayerNorms take hand-written gradients. All three give the same gradients up to float32 round-off.
 *
 * @example
 * ```ts
 * import type { Recompute } from "./deberta_v3.ts";
 *
 * const modes: Recompute[] = [false, true, "selective"];
 * console.log(modes.length);
 * ```
 */
export type Recompute = boolean | "selective";

/** How an encoder layer's body runs its linears and the pieces between them. */
interface LayerOps {
  linear(name: string, x: tf.Tensor2D): tf.Tensor2D;
  piece<T extends tf.Tensor>(fn: (...xs: tf.Tensor[]) => T, inputs: readonly tf.Tensor[]): T;
  custom<T extends tf.Tensor>(
    fn: (...xs: tf.Tensor[]) => { value: T; residuals: readonly tf.Tensor[] },
    inputs: readonly tf.Tensor[],
    vjp: CustomVjp,
  ): T;
}

/** The tensors every encoder layer reads besides its input. */
interface LayerConstants {
  readonly maskBias: tf.Tensor4D;
  readonly relC2P?: tf.Tensor2D;
  readonly relP2C?: tf.Tensor2D;
}

/**
 * The outputs of {@link DebertaModel.forward}; the caller owns (and disposes) every tensor.
 *
 * @example Classification logits and the encoder output
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { DebertaOutput } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const out: DebertaOutput = model.forward({ inputIds: [[1, 5, 6, 2]] });
 * assert.deepEqual(out.logits.shape, [1, 2]);
 * assert.deepEqual(out.lastHiddenState.shape, [1, 4, 8]);
 * assert.equal(out.hiddenStates, undefined);
 * tf.dispose([out.logits, out.lastHiddenState]);
 * model.dispose();
 * ```
 */
export interface DebertaOutput {
  /**
   * `[batch, numLabels]` (classification), `[batch, 1]` (regression), `[batch, seq, 2]` (question
   * answering: start, end logits), or an empty `[batch, 0]` tensor for head `"none"`.
   */
  readonly logits: tf.Tensor;
  /** Encoder output, `[batch, seq, hidden]`. */
  readonly lastHiddenState: tf.Tensor3D;
  /**
   * With `outputHiddenStates`: `[embeddings, layer 1, …, layer N]`, each `[batch, seq, hidden]`
   * (the last is the same tensor as `lastHiddenState`).
   */
  readonly hiddenStates?: tf.Tensor3D[];
}

/**
 * A linear map of the encoder that can carry an adapter.
 *
 * @example The query projection and the feed-forward input
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { AdaptableModule } from "./deberta_v3.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const modules: AdaptableModule[] = model.adaptableModules();
 * const byName = (suffix: string) => modules.find((m) => m.name.endsWith(suffix));
 * assert.deepEqual(modules[0], { name: "deberta.encoder.layer.0.attention.self.query_proj", inFeatures: 8, outFeatures: 8 });
 * assert.deepEqual(byName("intermediate.dense")?.outFeatures, 16);
 * model.dispose();
 * ```
 */
export interface AdaptableModule {
  /** HF module name, e.g. `deberta.encoder.layer.0.attention.self.query_proj`. */
  readonly name: string;
  /** Input width. */
  readonly inFeatures: number;
  /** Output width. */
  readonly outFeatures: number;
}

interface Linear {
  /** `W0ᵀ`, `[in, out]`: the wasm backend multiplies by a transposed operand ~15× slower. */
  weightT: tf.Tensor2D;
  /** `W0`, `[out, in]`, made by the first backward pass and kept (the input gradient's operand). */
  weight?: tf.Tensor2D | undefined;
  readonly bias: tf.Tensor1D;
}

/** `W0` of a linear for its input gradient: transposed once, then kept with the model. */
function backwardWeight(lin: Linear): tf.Tensor2D {
  lin.weight ??= tf.keep(tf.transpose(lin.weightT));
  return lin.weight;
}

/**
 * The kept-`W0` getter of a linear's backward pass, or `undefined` where the backend multiplies
 * by `W0ᵀ` as fast (no copy is made then: 340 MB less per heap at base size).
 */
function keptWeight(lin: Linear): (() => tf.Tensor2D) | undefined {
  return transposedProductsFast() ? undefined : () => backwardWeight(lin);
}

interface HeadLinear {
  readonly weight: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1>;
}

const MASK_NEGATIVE = -1e9;
let modelCounter = 0;

function getWeight(weights: DebertaWeights, name: string): WeightTensor | undefined {
  if (weights instanceof Map) return (weights as ReadonlyMap<string, WeightTensor>).get(name);
  const record = weights as Readonly<Record<string, WeightTensor>>;
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

function inferHead(weights: DebertaWeights): DebertaHead {
  if (getWeight(weights, "qa_outputs.weight") !== undefined) return "question-answering";
  const classifier = getWeight(weights, "classifier.weight");
  if (classifier === undefined) return "none";
  return classifier.shape[0] === 1 ? "regression" : "classification";
}

function toFloatTensor(
  weights: DebertaWeights,
  name: string,
  shape: readonly number[],
): tf.Tensor {
  const w = getWeight(weights, name);
  if (w === undefined) {
    throw new TypeError(
      `Cannot build DeBERTa model as weight "${name}" must be present: current value is missing`,
    );
  }
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new TypeError(
      `Cannot build DeBERTa model as weight "${name}" must have shape [${shape}]: current value is [${w.shape}]`,
    );
  }
  const data = w.data instanceof Float32Array ? w.data : Float32Array.from(w.data);
  return tf.tensor(data, [...shape], "float32");
}

function checkRate(rate: number, field: string): number {
  if (!Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new RangeError(
      `Cannot build DeBERTa model as ${field} must be in [0, 1): current value is ${rate}`,
    );
  }
  return rate;
}

function idsToTensor(
  ids: IdsInput,
  field: string,
  shape?: readonly [number, number],
  limit?: { readonly size: number; readonly name: string },
): tf.Tensor2D {
  if (ids instanceof tf.Tensor) {
    if (ids.rank !== 2 || ids.dtype !== "int32") {
      throw new TypeError(
        `Cannot run DeBERTa forward as ${field} must be an int32 [batch, seq] tensor: current value is ${ids.dtype} [${ids.shape}]`,
      );
    }
    if (shape !== undefined && (ids.shape[0] !== shape[0] || ids.shape[1] !== shape[1])) {
      throw new TypeError(
        `Cannot run DeBERTa forward as ${field} must have shape [${shape}]: current value is [${ids.shape}]`,
      );
    }
    return ids.clone();
  }
  const rows = ids.length;
  const cols = ids[0]?.length ?? 0;
  if (rows === 0 || cols === 0) {
    throw new TypeError(
      `Cannot run DeBERTa forward as ${field} must be a non-empty [batch, seq] array: current value is [${rows}, ${cols}]`,
    );
  }
  if (shape !== undefined && (rows !== shape[0] || cols !== shape[1])) {
    throw new TypeError(
      `Cannot run DeBERTa forward as ${field} must have shape [${shape}]: current value is [${rows}, ${cols}]`,
    );
  }
  const flat = new Int32Array(rows * cols);
  ids.forEach((row, i) => {
    if (row.length !== cols) {
      throw new TypeError(
        `Cannot run DeBERTa forward as every row of ${field} must have ${cols} entries: current value is ${row.length} in row ${i}`,
      );
    }
    row.forEach((v, j) => {
      if (!Number.isInteger(v)) {
        throw new TypeError(
          `Cannot run DeBERTa forward as ${field}[${i}][${j}] must be an integer: current value is ${v}`,
        );
      }
      if (limit !== undefined && (v < 0 || v >= limit.size)) {
        throw new RangeError(
          `Cannot run DeBERTa forward as ${field}[${i}][${j}] must be in [0, ${limit.size}) (${limit.name}): current value is ${v}`,
        );
      }
      flat[i * cols + j] = v;
    });
  });
  return tf.tensor2d(flat, [rows, cols], "int32");
}

function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return layerNormWithStats(x, gamma, beta, eps).value;
}

/**
 * {@link layerNorm} that also returns the row means and `1/√(variance + eps)`, `[rows, 1]` each:
 * what {@link layerNormInputGradient} needs besides the input (the same ops as `layerNorm`, so
 * the same values).
 */
function layerNormWithStats(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): { value: tf.Tensor; mean: tf.Tensor; rstd: tf.Tensor } {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const normed = tf.mul(tf.sub(x, mean), rstd);
    return { value: tf.add(tf.mul(normed, gamma), beta), mean, rstd };
  });
}

/**
 * The input gradient of a LayerNorm with frozen `gamma` (docs/METHOD.md §22): with
 * `x̂ = (x − μ)·rstd` and `g = dy·γ`, `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))` over each row.
 */
function layerNormInputGradient(
  x: tf.Tensor,
  mean: tf.Tensor,
  rstd: tf.Tensor,
  gamma: tf.Tensor,
  dy: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    const xhat = tf.mul(tf.sub(x, mean), rstd);
    const g = tf.mul(dy, gamma);
    const centred = tf.sub(g, tf.mean(g, -1, true));
    return tf.mul(tf.sub(centred, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))), rstd);
  });
}

/** Sets each adapter's per-forward counters to a value of `forwardState()` (absent: left). */
function setForwardState(
  deltas: readonly LinearDelta[],
  states: readonly (readonly number[] | undefined)[],
): void {
  deltas.forEach((d, j) => {
    const st = states[j];
    if (st !== undefined) d.restoreForwardState?.(st);
  });
}

/** Runs `f` and then sets the adapters' per-forward counters back to what they were before. */
function keepingForwardState<T>(deltas: readonly LinearDelta[], f: () => T): T {
  const now = deltas.map((d) => d.forwardState?.());
  try {
    return f();
  } finally {
    setForwardState(deltas, now);
  }
}

/** Names of the encoder's adaptable linears of layer `i`, in forward order. */
function layerLinearNames(config: DebertaConfig, i: number): string[] {
  const p = `deberta.encoder.layer.${i}`;
  const names = [
    `${p}.attention.self.query_proj`,
    `${p}.attention.self.key_proj`,
    `${p}.attention.self.value_proj`,
  ];
  if (config.relativeAttention && !config.shareAttKey) {
    if (config.posAttType.includes("c2p")) names.push(`${p}.attention.self.pos_key_proj`);
    if (config.posAttType.includes("p2c")) names.push(`${p}.attention.self.pos_query_proj`);
  }
  names.push(`${p}.attention.output.dense`, `${p}.intermediate.dense`, `${p}.output.dense`);
  return names;
}

function linearShape(config: DebertaConfig, name: string): [number, number] {
  const h = config.hiddenSize;
  if (name.endsWith(".intermediate.dense")) return [config.intermediateSize, h];
  if (name.endsWith(".output.dense") && !name.endsWith(".attention.output.dense")) {
    return [h, config.intermediateSize];
  }
  return [h, h];
}

/**
 * A DeBERTa-v2/v3 encoder with a task head. Build it with {@link createDebertaModel} or
 * `loadModel`; call {@link DebertaModel.dispose} when done.
 *
 * Dropout (training mode only) follows HF's sites: embeddings, relative embeddings (per layer;
 * here per gathered distance row), attention probabilities, after the attention-output and
 * output denses, before the pooler (`poolerDropout`) and before the classifier
 * (`classifierDropout`: HF's `cls_dropout`, else the hidden dropout). Masks come from a seeded
 * generator (`model/_dropout.ts`, docs/METHOD.md §22) per forward and per site, so training is
 * deterministic for a given seed.
 *
 * @example Training step on the head and one adapter
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { parseDebertaConfig } from "./config.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, relative_attention: true,
 *   position_buckets: 4, pos_att_type: "p2c|c2p", share_att_key: true,
 *   norm_rel_ebd: "layer_norm", position_biased_input: false, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1), { hiddenDropout: 0.1 });
 * const a = tf.variable(tf.zeros([8, 8]));
 * model.setAdapter("deberta.encoder.layer.0.attention.self.query_proj", {
 *   delta: (x) => tf.matMul(x, a),
 * });
 * const { grads } = tf.variableGrads(() => {
 *   const out = model.forward({ inputIds: [[1, 5, 2]] }, { training: true, seed: 3 });
 *   return tf.sum(tf.square(out.logits)) as tf.Scalar;
 * }, [...model.trainableVariables(), a]);
 * assert.deepEqual(grads[a.name]!.shape, [8, 8]);
 * tf.dispose(grads);
 * a.dispose();
 * model.dispose();
 * ```
 */
export class DebertaModel {
  /** The resolved config. */
  readonly config: DebertaConfig;
  /** The task head. */
  readonly head: DebertaHead;
  /** Number of head outputs (labels; 1 for regression, 2 for question answering, 0 for none). */
  readonly numLabels: number;
  #frozen = new Map<string, tf.Tensor>();
  #linears = new Map<string, Linear>();
  #adapters = new Map<string, LinearDelta>();
  #heads = new Map<string, HeadLinear>();
  #hiddenDropout: number;
  #attentionDropout: number;
  #poolerDropout: number;
  #classifierDropout: number;
  #seed: number;
  #trainingCalls = 0;
  #recompute: Recompute = false;
  #disposed = false;

  /**
   * Builds the model from weights by HF name (use {@link createDebertaModel}).
   *
   * @param config The resolved config.
   * @param weights Every base and head weight (see {@link DebertaWeights}).
   * @param options See {@link DebertaModelOptions}.
   */
  constructor(config: DebertaConfig, weights: DebertaWeights, options: DebertaModelOptions = {}) {
    requireModelBackend("create the DeBERTa model");
    this.config = config;
    this.head = options.head ?? inferHead(weights);
    this.#hiddenDropout = checkRate(options.hiddenDropout ?? 0, "hiddenDropout");
    this.#attentionDropout = checkRate(options.attentionDropout ?? 0, "attentionDropout");
    this.#poolerDropout = checkRate(options.poolerDropout ?? config.poolerDropout, "poolerDropout");
    this.#classifierDropout = checkRate(
      options.classifierDropout ?? config.clsDropout ?? this.#hiddenDropout,
      "classifierDropout",
    );
    this.#seed = options.seed ?? 0;
    if (!Number.isSafeInteger(this.#seed)) {
      throw new RangeError(
        `Cannot build DeBERTa model as seed must be a safe integer: current value is ${this.#seed}`,
      );
    }
    this.numLabels = this.head === "question-answering"
      ? 2
      : this.head === "regression"
      ? 1
      : this.head === "none"
      ? 0
      : getWeight(weights, "classifier.weight")?.shape[0] ?? config.numLabels;
    const h = config.hiddenSize;
    const id = modelCounter++;
    try {
      const frozen = (name: string, shape: readonly number[]): void => {
        this.#frozen.set(name, toFloatTensor(weights, name, shape));
      };
      frozen("deberta.embeddings.word_embeddings.weight", [config.vocabSize, h]);
      if (config.positionBiasedInput) {
        frozen("deberta.embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h]);
      }
      if (config.typeVocabSize > 0) {
        frozen("deberta.embeddings.token_type_embeddings.weight", [config.typeVocabSize, h]);
      }
      frozen("deberta.embeddings.LayerNorm.weight", [h]);
      frozen("deberta.embeddings.LayerNorm.bias", [h]);
      if (config.relativeAttention) {
        frozen("deberta.encoder.rel_embeddings.weight", [2 * config.posEbdSize, h]);
        if (config.normRelEbd === "layer_norm") {
          frozen("deberta.encoder.LayerNorm.weight", [h]);
          frozen("deberta.encoder.LayerNorm.bias", [h]);
        }
      }
      for (let i = 0; i < config.numHiddenLayers; i++) {
        for (const name of layerLinearNames(config, i)) {
          const [out, inp] = linearShape(config, name);
          const w = toFloatTensor(weights, `${name}.weight`, [out, inp]);
          const weightT = tf.transpose(w) as tf.Tensor2D;
          w.dispose();
          this.#linears.set(name, {
            weightT,
            bias: toFloatTensor(weights, `${name}.bias`, [out]) as tf.Tensor1D,
          });
        }
        const p = `deberta.encoder.layer.${i}`;
        for (const ln of [`${p}.attention.output.LayerNorm`, `${p}.output.LayerNorm`]) {
          frozen(`${ln}.weight`, [h]);
          frozen(`${ln}.bias`, [h]);
        }
      }
      const variable = <R extends tf.Rank>(name: string, shape: number[]): tf.Variable<R> => {
        const init = toFloatTensor(weights, name, shape);
        const v = tf.variable(init, true, `deberta${id}/${name}`) as tf.Variable<R>;
        init.dispose(); // the variable holds its own reference to the data
        return v;
      };
      const headVar = (name: string, out: number): void => {
        this.#heads.set(name, {
          weight: variable<tf.Rank.R2>(`${name}.weight`, [out, h]),
          bias: variable<tf.Rank.R1>(`${name}.bias`, [out]),
        });
      };
      if (this.head === "classification" || this.head === "regression") {
        headVar("pooler.dense", config.poolerHiddenSize);
        headVar("classifier", this.numLabels);
      } else if (this.head === "question-answering") {
        headVar("qa_outputs", this.numLabels);
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /**
   * Every encoder linear that can carry an adapter (six per layer for DeBERTa-v3; the heads are
   * trained in full and are not listed), in layer and forward order.
   *
   * @returns `{ name, inFeatures, outFeatures }` per linear.
   */
  adaptableModules(): AdaptableModule[] {
    return [...this.#linears].map(([name, lin]) => ({
      name,
      inFeatures: lin.weightT.shape[0],
      outFeatures: lin.weightT.shape[1],
    }));
  }

  /**
   * Attaches (or, with `undefined`, removes) the adapter of one encoder linear. The model keeps
   * a reference; it does not dispose adapters.
   *
   * @param name A name from {@link DebertaModel.adaptableModules}.
   * @param delta The adapter, or `undefined` to remove it.
   */
  setAdapter(name: string, delta: LinearDelta | undefined): void {
    this.#linear(name);
    if (delta === undefined) this.#adapters.delete(name);
    else this.#adapters.set(name, delta);
  }

  /**
   * The adapter attached to a linear, if any.
   *
   * @param name A name from {@link DebertaModel.adaptableModules}.
   * @returns The adapter or `undefined`.
   */
  adapter(name: string): LinearDelta | undefined {
    this.#linear(name);
    return this.#adapters.get(name);
  }

  /**
   * The frozen weight `W0` of an encoder linear, `[out, in]` (torch layout), as a new tensor
   * owned by the caller (the model holds `W0ᵀ` internally).
   *
   * @param name A name from {@link DebertaModel.adaptableModules}.
   * @returns A copy of the weight; dispose it when done.
   */
  baseWeight(name: string): tf.Tensor2D {
    return tf.transpose(this.#linear(name).weightT);
  }

  /**
   * Replaces the frozen weight of an encoder linear (for merging / unmerging adapters). The model
   * stores a copy and disposes the old weight.
   *
   * @param name A name from {@link DebertaModel.adaptableModules}.
   * @param weight The new weight, `[out, in]`.
   */
  setBaseWeight(name: string, weight: tf.Tensor2D): void {
    const lin = this.#linear(name);
    const [inF, outF] = lin.weightT.shape;
    if (weight.rank !== 2 || weight.shape[0] !== outF || weight.shape[1] !== inF) {
      throw new TypeError(
        `Cannot set base weight of ${name} as it must have shape [${outF},${inF}]: current value is [${weight.shape}]`,
      );
    }
    const old = lin.weightT;
    lin.weightT = tf.keep(tf.tidy(() => tf.transpose(tf.cast(weight, "float32")))) as tf.Tensor2D;
    old.dispose();
    lin.weight?.dispose();
    lin.weight = undefined;
  }

  /**
   * The head variables (the model's only trainable state): `pooler.dense`, `classifier`
   * (weight, bias each) or `qa_outputs`; empty for head `"none"`.
   *
   * @returns The variables, in that order.
   */
  trainableVariables(): tf.Variable[] {
    return [...this.#heads.values()].flatMap((l) => [l.weight, l.bias]);
  }

  /**
   * The head variables by HF name (`classifier.weight`, …), for checkpoints.
   *
   * @returns Name → variable.
   */
  namedTrainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, l] of this.#heads) {
      out.set(`${name}.weight`, l.weight);
      out.set(`${name}.bias`, l.bias);
    }
    return out;
  }

  /**
   * How training forwards keep activations (default false; see
   * {@link DebertaModel.setRecompute} and {@link Recompute}).
   */
  get recompute(): Recompute {
    return this.#recompute;
  }

  /**
   * Switches activation recomputation for training forwards (docs/METHOD.md §22). With `true`
   * each encoder layer keeps only its input for the backward pass and runs again inside its
   * gradient, so a step holds one layer's activations plus every layer's input. With
   * `"selective"` each layer keeps its linears' inputs and outputs and runs only GELU and the
   * dropout of the position rows again (the attention core and LayerNorms take hand-written
   * gradients): about a third less work than `true` (the frozen products run
   * once forward and once backward), a few activations more per layer. The gradients equal the
   * plain path's up to float32 round-off. Every attached adapter must list its variables
   * (`LinearDelta.trainableVariables`).
   *
   * @param mode `false` (keep every activation), `true` or `"selective"`.
   */
  setRecompute(mode: Recompute): void {
    if (mode !== true && mode !== false && mode !== "selective") {
      throw new TypeError(
        `Cannot set recompute as it must be true, false or "selective": current value is ${
          JSON.stringify(mode)
        }`,
      );
    }
    this.#recompute = mode;
  }

  /**
   * Runs the encoder and the head. Usable inside `tf.variableGrads` (gradients reach the head
   * variables and any adapter variables; embeddings are not differentiated).
   *
   * @param inputs Ids, attention mask and token types, `[batch, seq]`.
   * @param options See {@link ForwardOptions}.
   * @returns Logits and hidden states; the caller owns them.
   */
  forward(inputs: DebertaInputs, options: ForwardOptions = {}): DebertaOutput {
    if (this.#disposed) {
      throw new TypeError(
        "Cannot run DeBERTa forward as the model must not be disposed: current value is disposed",
      );
    }
    const training = options.training ?? false;
    const config = this.config;
    const seedBase = options.seed ??
      (training ? this.#seed * 1_000_003 + this.#trainingCalls++ : 0);
    let site = 0;
    const drop = <T extends tf.Tensor>(x: T, rate: number): T =>
      training && rate > 0 ? seededDropout(x, rate, `deberta:${seedBase}:${site++}`) : x;
    return tf.tidy(() => {
      const ids = idsToTensor(inputs.inputIds, "inputIds", undefined, {
        size: config.vocabSize,
        name: "vocab_size",
      });
      const [b, s] = ids.shape;
      if (s > config.maxPositionEmbeddings && config.positionBiasedInput) {
        throw new RangeError(
          `Cannot run DeBERTa forward as the sequence length must be <= max_position_embeddings (${config.maxPositionEmbeddings}): current value is ${s}`,
        );
      }
      const mask = inputs.attentionMask === undefined
        ? tf.ones([b, s], "float32") as tf.Tensor2D
        : tf.cast(idsToTensor(inputs.attentionMask, "attentionMask", [b, s]), "float32");
      const h = config.hiddenSize;
      const eps = config.layerNormEps;
      const f = (name: string): tf.Tensor => this.#frozen.get(name)!;

      // Embeddings (frozen; outside the gradient path).
      let emb = tf.gather(f("deberta.embeddings.word_embeddings.weight"), ids);
      if (config.positionBiasedInput) {
        const pos = tf.slice(f("deberta.embeddings.position_embeddings.weight"), [0, 0], [s, h]);
        emb = tf.add(emb, pos);
      }
      if (config.typeVocabSize > 0) {
        const types = inputs.tokenTypeIds === undefined
          ? tf.zeros([b, s], "int32")
          : idsToTensor(inputs.tokenTypeIds, "tokenTypeIds", [b, s], {
            size: config.typeVocabSize,
            name: "type_vocab_size",
          });
        emb = tf.add(emb, tf.gather(f("deberta.embeddings.token_type_embeddings.weight"), types));
      }
      emb = layerNorm(
        emb,
        f("deberta.embeddings.LayerNorm.weight"),
        f("deberta.embeddings.LayerNorm.bias"),
        eps,
      );
      emb = tf.mul(emb, tf.expandDims(mask, 2));
      let hidden = drop(emb, this.#hiddenDropout) as tf.Tensor3D;
      const states: tf.Tensor3D[] = [hidden];

      // Relative embeddings: LayerNorm'd once, one row per signed distance.
      let relC2P: tf.Tensor2D | undefined;
      let relP2C: tf.Tensor2D | undefined;
      const c2p = config.relativeAttention && config.posAttType.includes("c2p");
      const p2c = config.relativeAttention && config.posAttType.includes("p2c");
      if (config.relativeAttention) {
        let rel = f("deberta.encoder.rel_embeddings.weight");
        if (config.normRelEbd === "layer_norm") {
          rel = layerNorm(
            rel,
            f("deberta.encoder.LayerNorm.weight"),
            f("deberta.encoder.LayerNorm.bias"),
            eps,
          );
        }
        const rows = relativeEmbeddingRows(s, {
          bucketSize: config.positionBuckets,
          maxPosition: config.maxRelativePositions,
          span: config.posEbdSize,
        });
        if (c2p) relC2P = tf.gather(rel, tf.tensor1d(rows.c2p, "int32")) as tf.Tensor2D;
        if (p2c) relP2C = tf.gather(rel, tf.tensor1d(rows.p2c, "int32")) as tf.Tensor2D;
      }
      const scaleFactor = 1 + (config.posAttType.includes("c2p") ? 1 : 0) +
        (config.posAttType.includes("p2c") ? 1 : 0);
      const maskBias = tf.reshape(tf.mul(tf.sub(1, mask), MASK_NEGATIVE), [
        1,
        b,
        1,
        s,
      ]) as tf.Tensor4D;

      // One encoder layer on flat rows, `x` [b·s, h] → [b·s, h], written against `LayerOps` so
      // that the plain path, the whole-layer recomputation (`#recomputeLayer`) and the selective
      // one (`#selectiveLayer`) run the same ops in the same order (and draw the same dropout
      // masks); the constants come as arguments so that a backward pass can hand in saved copies.
      const layerBody = (i: number, x: tf.Tensor2D, k: LayerConstants, ops: LayerOps) => {
        const p = `deberta.encoder.layer.${i}`;
        const lin = (name: string, inp: tf.Tensor2D): tf.Tensor2D =>
          ops.linear(`${p}.${name}`, inp);
        const qName = config.shareAttKey
          ? "attention.self.query_proj"
          : "attention.self.pos_query_proj";
        const kName = config.shareAttKey
          ? "attention.self.key_proj"
          : "attention.self.pos_key_proj";
        const query = lin("attention.self.query_proj", x);
        const key = lin("attention.self.key_proj", x);
        const value = lin("attention.self.value_proj", x);
        const dropRows = (r: tf.Tensor): tf.Tensor2D => drop(r as tf.Tensor2D, this.#hiddenDropout);
        const posKey = k.relC2P === undefined
          ? undefined
          : lin(kName, ops.piece(dropRows, [k.relC2P]));
        const posQuery = k.relP2C === undefined
          ? undefined
          : lin(qName, ops.piece(dropRows, [k.relP2C]));
        // The attention core: inputs Q, K, V, the mask bias, then the position keys/queries.
        const attentionInputs = (t: readonly tf.Tensor[]): DisentangledAttentionInputs => {
          let j = 4;
          return {
            query: t[0] as tf.Tensor2D,
            key: t[1] as tf.Tensor2D,
            value: t[2] as tf.Tensor2D,
            ...(posKey !== undefined ? { posKey: t[j++] as tf.Tensor2D } : {}),
            ...(posQuery !== undefined ? { posQuery: t[j++] as tf.Tensor2D } : {}),
            maskBias: t[3] as tf.Tensor4D,
            batch: b,
            seqLen: s,
            heads: config.numAttentionHeads,
            scaleFactor,
            dropProbs: (probs) => drop(probs, this.#attentionDropout),
          };
        };
        const context = ops.custom(
          (...t: tf.Tensor[]) => {
            const { context, probs } = disentangledAttentionWithProbs(attentionInputs(t));
            return { value: context, residuals: [probs] };
          },
          [
            query,
            key,
            value,
            k.maskBias,
            ...(posKey === undefined ? [] : [posKey]),
            ...(posQuery === undefined ? [] : [posQuery]),
          ],
          (t, [probs], dy) => {
            // The same dropout site as the forward: the probabilities' multipliers again.
            const ones = tf.onesLike(probs!) as tf.Tensor4D;
            const mask = drop(ones, this.#attentionDropout);
            const g = disentangledAttentionBackward(
              attentionInputs(t),
              probs as tf.Tensor4D,
              mask === ones ? undefined : mask,
              dy as tf.Tensor2D,
            );
            // One gradient per input, in the inputs' order (the mask bias takes none).
            return [
              g.query,
              g.key,
              g.value,
              undefined,
              ...(posKey === undefined ? [] : [g.posKey]),
              ...(posQuery === undefined ? [] : [g.posQuery]),
            ];
          },
        );
        // LayerNorm(dropout(y) + residual), with a hand-written input gradient: the backward
        // recomputes the sum (the same dropout site, so the same mask) and reads the kept row
        // statistics instead of replaying the moments under autograd.
        const residualNorm = (norm: string, y: tf.Tensor2D, res: tf.Tensor2D): tf.Tensor2D => {
          const gamma = f(`${p}.${norm}.LayerNorm.weight`);
          const beta = f(`${p}.${norm}.LayerNorm.bias`);
          return ops.custom(
            (yIn: tf.Tensor, resIn: tf.Tensor) => {
              const sum = tf.add(drop(yIn, this.#hiddenDropout), resIn);
              const { value, mean, rstd } = layerNormWithStats(sum, gamma, beta, eps);
              return { value: value as tf.Tensor2D, residuals: [mean, rstd] };
            },
            [y, res],
            ([yIn, resIn], [mean, rstd], dy) => {
              const ones = tf.onesLike(yIn!);
              const mask = drop(ones, this.#hiddenDropout);
              const sum = mask === ones ? tf.add(yIn!, resIn!) : tf.add(tf.mul(yIn!, mask), resIn!);
              const dx = layerNormInputGradient(sum, mean!, rstd!, gamma, dy);
              // Two handles: the recorder may dispose one input's gradient as it sums it.
              return [mask === ones ? tf.clone(dx) : tf.mul(dx, mask), dx];
            },
          );
        };
        const attnOut = residualNorm("attention.output", lin("attention.output.dense", context), x);
        const inter = ops.piece((t: tf.Tensor) => geluErf(t) as tf.Tensor2D, [
          lin("intermediate.dense", attnOut),
        ]);
        return residualNorm("output", lin("output.dense", inter), attnOut);
      };
      const plainOps: LayerOps = {
        linear: (name, inp) => this.#applyLinear(name, inp, training),
        piece: (fn, inputs) => fn(...inputs),
        custom: (fn, inputs) => fn(...inputs).value,
      };
      const runLayer = (i: number, input: tf.Tensor3D, k: LayerConstants): tf.Tensor3D =>
        tf.reshape(
          layerBody(i, tf.reshape(input, [b * s, h]) as tf.Tensor2D, k, plainOps),
          [b, s, h],
        );
      const constants: LayerConstants = {
        maskBias,
        ...(relC2P === undefined ? {} : { relC2P }),
        ...(relP2C === undefined ? {} : { relP2C }),
      };
      const recompute = training ? (options.recompute ?? this.#recompute) : false;
      for (let i = 0; i < config.numHiddenLayers; i++) {
        if (recompute === "selective") {
          hidden = this.#selectiveLayer(i, hidden, constants, training, {
            getSite: () => site,
            setSite: (n) => {
              site = n;
            },
          }, (x, k, ops) => layerBody(i, x, k, ops));
        } else if (recompute) {
          const siteAtStart = site;
          hidden = this.#recomputeLayer(i, hidden, constants, (input, k, replay) => {
            if (!replay) return runLayer(i, input, k);
            // The replay draws the same dropout masks: the forward's site numbers again.
            const siteNow = site;
            site = siteAtStart;
            try {
              return runLayer(i, input, k);
            } finally {
              site = siteNow;
            }
          });
        } else {
          hidden = runLayer(i, hidden, constants);
        }
        states.push(hidden);
      }

      let logits: tf.Tensor;
      if (this.head === "classification" || this.head === "regression") {
        const cls = tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, h]), [b, h]) as tf.Tensor2D;
        const pooled = geluErf(
          this.#applyHead("pooler.dense", drop(cls, this.#poolerDropout)),
        ) as tf.Tensor2D;
        logits = this.#applyHead("classifier", drop(pooled, this.#classifierDropout));
      } else if (this.head === "none") {
        logits = tf.zeros([b, 0]);
      } else {
        const flat = tf.reshape(hidden, [b * s, h]) as tf.Tensor2D;
        logits = tf.reshape(this.#applyHead("qa_outputs", flat), [b, s, this.numLabels]);
      }
      const result: DebertaOutput = options.outputHiddenStates
        ? { logits, lastHiddenState: hidden, hiddenStates: states }
        : { logits, lastHiddenState: hidden };
      return result as unknown as tf.TensorContainer;
    }) as unknown as DebertaOutput;
  }

  /** Frees every base tensor and head variable (adapters belong to their owner). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#frozen.values()) t.dispose();
    for (const l of this.#linears.values()) {
      l.weightT.dispose();
      l.weight?.dispose();
      l.bias.dispose();
    }
    for (const l of this.#heads.values()) {
      l.weight.dispose();
      l.bias.dispose();
    }
    this.#frozen.clear();
    this.#linears.clear();
    this.#heads.clear();
    this.#adapters.clear();
  }

  #linear(name: string): Linear {
    const lin = this.#linears.get(name);
    if (lin === undefined) {
      throw new RangeError(
        `Cannot find adaptable module as name must be one of adaptableModules(): current value is ${
          JSON.stringify(name)
        }`,
      );
    }
    return lin;
  }

  #applyLinear(name: string, x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const lin = this.#linear(name);
    const y = frozenLinear(x, lin.weightT, lin.bias, keptWeight(lin));
    const delta = this.#adapters.get(name);
    return delta === undefined ? y : tf.add(y, delta.delta(x, training));
  }

  /** The adapters of layer `i` and their trainable variables (in forward order, deduplicated). */
  #layerAdapters(i: number, why: string): { deltas: LinearDelta[]; vars: tf.Variable[] } {
    const deltas: LinearDelta[] = [];
    const vars: tf.Variable[] = [];
    const seen = new Set<string>();
    for (const name of layerLinearNames(this.config, i)) {
      const d = this.#adapters.get(name);
      if (d === undefined) continue;
      if (d.trainableVariables === undefined) {
        throw new TypeError(
          `Cannot ${why} encoder layer ${i} as the adapter of ${name} must list its variables (trainableVariables()): current adapter has none`,
        );
      }
      deltas.push(d);
      for (const v of d.trainableVariables()) {
        if (v.trainable && !seen.has(v.name)) {
          seen.add(v.name);
          vars.push(v);
        }
      }
    }
    return { deltas, vars };
  }

  /**
   * Runs encoder layer `i` with selective recomputation (`model/selective_layer.ts`): a
   * `tf.customGrad` over the layer input and the layer's adapter variables whose forward
   * records the layer on a coarse tape and keeps the recorded inputs, and whose gradient runs
   * that tape backwards.
   */
  #selectiveLayer(
    i: number,
    input: tf.Tensor3D,
    k: LayerConstants,
    training: boolean,
    sites: { readonly getSite: () => number; readonly setSite: (n: number) => void },
    body: (x: tf.Tensor2D, k: LayerConstants, ops: LayerOps) => tf.Tensor2D,
  ): tf.Tensor3D {
    const { deltas, vars } = this.#layerAdapters(i, "selectively recompute");
    const [b, s, h] = input.shape;
    const layer = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const recorder = new LayerRecorder({ training, ...sites });
      const x = tf.reshape(args[0] as tf.Tensor3D, [b * s, h]) as tf.Tensor2D;
      // Layer 0 reads the embeddings, which are never differentiated.
      recorder.input(x, i > 0);
      recorder.constant(k.maskBias);
      if (k.relC2P !== undefined) recorder.constant(k.relC2P);
      if (k.relP2C !== undefined) recorder.constant(k.relP2C);
      const out = body(x, k, {
        linear: (name, inp) => {
          const lin = this.#linear(name);
          const kept = keptWeight(lin);
          return recorder.linear(
            {
              name,
              weightT: lin.weightT,
              ...(kept === undefined ? {} : { weight: kept }),
              delta: this.#adapters.get(name),
            },
            inp,
            (t) => this.#applyLinear(name, t, training),
          );
        },
        piece: (fn, inputs) => recorder.piece(fn, inputs),
        custom: (fn, inputs, vjp) => recorder.custom(fn, inputs, vjp),
      });
      // Saved copies outlive the forward's tidy; the gradient engine frees them after backward.
      save(recorder.savedTensors());
      return {
        value: tf.reshape(out, [b, s, h]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
          // The backward sets each adapter's counters back per call; leave them as they were.
          return keepingForwardState(deltas, () => {
            const { dx, varGrads } = recorder.backward(
              saved,
              out,
              tf.reshape(dy, [b * s, h]),
              vars,
            );
            return [tf.reshape(dx, [b, s, h]), ...varGrads];
          });
        },
      };
    });
    return layer(input, ...vars) as tf.Tensor3D;
  }

  /**
   * Runs encoder layer `i` so that only its input (and the layer constants) is kept for the
   * backward pass: a `tf.customGrad` whose inputs are the layer input and the variables of the
   * layer's adapters, and whose gradient replays the layer under `tf.variableGrads` with the
   * adapters' per-forward counters (dropout index, call site) set back to the forward's values.
   */
  #recomputeLayer(
    i: number,
    input: tf.Tensor3D,
    k: LayerConstants,
    run: (input: tf.Tensor3D, k: LayerConstants, replay: boolean) => tf.Tensor3D,
  ): tf.Tensor3D {
    const { deltas, vars } = this.#layerAdapters(i, "recompute");
    const states = deltas.map((d) => d.forwardState?.());
    const rel = (["relC2P", "relP2C"] as const).filter((key) => k[key] !== undefined);
    const layer = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor3D;
      const save = args[args.length - 1] as tf.GradSaveFunc;
      // Saved copies outlive the forward's tidy; the gradient engine frees them after backward.
      save([x, k.maskBias, ...rel.map((key) => k[key] as tf.Tensor)]);
      return {
        value: run(x, k, false),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
          const [xs, maskBias, ...rest] = saved as [tf.Tensor3D, tf.Tensor4D, ...tf.Tensor2D[]];
          const kk: LayerConstants = {
            maskBias,
            ...Object.fromEntries(rel.map((key, j) => [key, rest[j]])),
          };
          return keepingForwardState(deltas, () => {
            setForwardState(deltas, states);
            const xv = tf.variable(xs, true);
            try {
              const { value, grads } = withOuterTape(() =>
                tf.variableGrads(
                  () => tf.sum(tf.mul(run(xv as tf.Tensor as tf.Tensor3D, kk, true), dy)),
                  [xv, ...vars],
                )
              );
              value.dispose();
              return [
                grads[xv.name] as tf.Tensor,
                ...vars.map((v) => grads[v.name] ?? tf.zerosLike(v)),
              ];
            } finally {
              xv.dispose();
            }
          });
        },
      };
    });
    return layer(input, ...vars) as tf.Tensor3D;
  }

  #applyHead(name: string, x: tf.Tensor2D): tf.Tensor2D {
    const l = this.#heads.get(name)!;
    return tf.add(matMulPlain(x, l.weight, true), l.bias);
  }
}

/**
 * Builds a DeBERTa model from in-memory weights by HF name (base + head). The weights are
 * copied into tensors; base tensors are frozen, head weights become trainable variables.
 *
 * @param config The resolved config (`parseDebertaConfig`).
 * @param weights Every weight the config needs, by HF name.
 * @param options Head, dropout rates and seed (see {@link DebertaModelOptions}).
 * @returns The model; call `dispose()` when done.
 *
 * @example A seeded random model
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import { createDebertaModel } from "./deberta_v3.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, relative_attention: true,
 *   position_buckets: 4, pos_att_type: "p2c|c2p", share_att_key: true,
 *   norm_rel_ebd: "layer_norm", position_biased_input: false, num_labels: 3,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1), {});
 * const out = model.forward({ inputIds: [[1, 5, 6, 2]], attentionMask: [[1, 1, 1, 1]] });
 * assert.deepEqual(out.logits.shape, [1, 3]);
 * assert.equal(model.adaptableModules().length, 6);
 * out.logits.dispose();
 * out.lastHiddenState.dispose();
 * model.dispose();
 * ```
 */
export function createDebertaModel(
  config: DebertaConfig,
  weights: DebertaWeights,
  options: DebertaModelOptions = {},
): DebertaModel {
  return new DebertaModel(config, weights, options);
}
