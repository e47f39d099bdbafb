/**
 * The random DeBERTa-v3-shaped encoders the benchmarks build: the config of a given size (the
 * v3 attention settings, 256 position buckets, a 2-label head) and a deterministic token batch.
 *
 * @internal
 * @module
 */
import { type DebertaConfig, parseDebertaConfig } from "../model/config.ts";

/** The sizes of a benchmark encoder. */
export interface BenchEncoderSize {
  /** Encoder layers. */
  readonly layers: number;
  /** Hidden width. */
  readonly hidden: number;
  /** Attention heads. */
  readonly heads: number;
  /** Intermediate (FFN) width. */
  readonly intermediate: number;
  /** Vocabulary size. */
  readonly vocab: number;
}

/** An encoder shape and its batch. */
export interface EncoderShape extends BenchEncoderSize {
  /** Label for tables. */
  readonly label: string;
  /** Sequences per batch. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seq: number;
}

/**
 * A DeBERTa-v3 config of the given size (relative attention, p2c|c2p, 256 buckets, 2 labels).
 *
 * @internal
 * @param size The encoder's sizes.
 * @param source What the config is, for error messages.
 * @returns The parsed config.
 */
export function benchDebertaConfig(size: BenchEncoderSize, source: string): DebertaConfig {
  return parseDebertaConfig({
    model_type: "deberta-v2",
    vocab_size: size.vocab,
    hidden_size: size.hidden,
    num_hidden_layers: size.layers,
    num_attention_heads: size.heads,
    intermediate_size: size.intermediate,
    max_position_embeddings: 512,
    relative_attention: true,
    position_buckets: 256,
    max_relative_positions: -1,
    pos_att_type: "p2c|c2p",
    norm_rel_ebd: "layer_norm",
    share_att_key: true,
    position_biased_input: false,
    layer_norm_eps: 1e-7,
    hidden_act: "gelu",
    type_vocab_size: 0,
    num_labels: 2,
  }, source);
}

/**
 * A deterministic `[batch][seq]` batch of token ids in `[3, vocab)` (ids 0–2 are special).
 *
 * @internal
 * @param shape Batch size, sequence length and vocabulary size.
 * @returns The token ids.
 */
export function benchTokenIds(
  shape: { readonly batch: number; readonly seq: number; readonly vocab: number },
): number[][] {
  return Array.from(
    { length: shape.batch },
    (_, b) =>
      Array.from({ length: shape.seq }, (_, s) => 3 + ((b * 131 + s * 17) % (shape.vocab - 3))),
  );
}
