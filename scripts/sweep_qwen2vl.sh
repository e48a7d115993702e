#!/usr/bin/env bash
# Overnight V-NIAH / V-NIAH-D sweep of Qwen2-VL-7B over RoPE variants, on every GPU of the box.
#   bash scripts/sweep_qwen2vl.sh [NUM_GPUS] [MODEL]
# Each rank runs a whole model on its own GPU and writes results.R-of-N.jsonl; whichever finishes
# last merges them into results.jsonl + summary.json. Rerun the same command after a crash or a
# reboot: finished samples are skipped, failed ones (e.g. out of memory) retried.
set -euo pipefail
gpus="${1:-$(nvidia-smi -L | wc -l)}"
model="${2:-Qwen/Qwen2-VL-7B-Instruct}"
data=data/longva
run="runs/$(basename "$model")-longva"
niah generate --preset longva --out "$data"
# one worker per GPU (logs in $run/logs); `torchrun --nproc-per-node "$gpus" -m niah run ...` does the same
niah run "$data" --model "hf:$model" --gpus "$gpus" \
  --variants m-rope,videorope,vanilla,hope --tasks v-niah,v-niah-d --dtype bfloat16 --out "$run"
niah plot "$run" --out "$run/figures" --format png,pdf
