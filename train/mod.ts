/**
 * triadapt `train/` layer.
 *
 * @module
 */

export * from "./features/mod.ts";
export * from "./tasks/mod.ts";
export * from "./metrics/mod.ts";
export * from "./hyperparams.ts";
export * from "./presets.ts";
export * from "./atomic_write.ts";
export * from "./run_folder.ts";
export * from "./progress.ts";
export * from "./seed_summary.ts";
export * from "./svg/rank_heatmap.ts";
export * from "./svg/line_chart.ts";
export * from "./loop.ts";
export * from "./gradients.ts";
export * from "./worker_pool.ts";
export * from "./controllers/controller.ts";
export * from "./controllers/triadapt.ts";
export * from "./controllers/lora.ts";
export * from "./controllers/adalora.ts";
export * from "./controllers/increlora.ts";
export * from "./planted/planted_task.ts";
export * from "./checkpoint.ts";
export * from "./run.ts";
export * from "./glue_task.ts";
export * from "./squad_task.ts";
export * from "./real_task.ts";
export * from "./peft_export.ts";
export * from "./merged_export.ts";
export * from "./tiny_data.ts";
