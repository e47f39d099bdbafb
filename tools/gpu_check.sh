#!/usr/bin/env bash
# GPU check for the webgpu backend, prepared for a machine with a real GPU (see README, "Backends"):
#   1. the webgpu tests (DeBERTa golden outputs within 1e-4, each adapter's gradient and 20
#      training steps with growth against wasm, no leaks), required to run (not skipped);
#   2. the DeBERTa-v3-base shape encoder forward and training step times on webgpu.
# Usage: tools/gpu_check.sh [--small]   (--small: the 2-layer, hidden-128 shape, for a software
# adapter or a quick look). Prints everything on stdout; exit status 0 only if every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
echo "== machine"
date -u
uptime
(command -v nvidia-smi >/dev/null && nvidia-smi -L) || echo "nvidia-smi: not found"
npx -y deno@2 --version | head -n 1
echo "== webgpu tests (golden, gradients and training vs wasm, leaks)"
TRIADAPT_REQUIRE_WEBGPU=1 npx -y deno@2 test --unstable-webgpu --allow-read --allow-write \
  --allow-env --allow-run tests/webgpu/
echo "== base-shape forward and training step on webgpu"
npx -y deno@2 run --unstable-webgpu --allow-read --allow-write --allow-env tools/gpu_check.ts "$@"
echo "== done"
