#!/usr/bin/env bash
# Regenerates every figure under figures/ from real runs of niah (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${NIAH_FIGURE_WORKDIR:-$(mktemp -d)}"
niah demo --out "$work/demo" -q   # the shipped tiny models (models/demo)
cp "$work/demo/figures/grid_tiny.png" figures/demo_grid.png
cp "$work/demo/figures/accuracy_vs_length_tiny.png" figures/demo_accuracy_vs_length.png
cp "$work/demo/figures/summary.md" figures/demo_summary.md
# where the demo's tiny models attend at the answer (niah run --attention; README, docs/train.md)
niah run "$work/demo/data" --model tiny:@demo --variants vanilla,m-rope,videorope --attention \
  --out "$work/demo-attention" -q > /dev/null
niah plot "$work/demo-attention" --out "$work/demo-attention/figures" > /dev/null
cp "$work/demo-attention/figures/attention_grid_tiny.png" figures/demo_attention.png
cp "$work/demo-attention/figures/attention.md" figures/demo_attention.md
niah demo --model probe --out "$work/probe-demo" -q --variants vanilla,m-rope,m-rope-time,mrope-interleaved,videorope,hope
cp "$work/probe-demo/figures/grid_probe.png" figures/probe_grid.png
niah rope plot m-rope --out figures/rope_m-rope.png
niah rope plot videorope --out figures/rope_videorope.png
niah rope plot vanilla m-rope m-rope-time mrope-interleaved videorope hope --out figures/rope_variants.png
# the built-in needle families, each beside its distractors (docs/needles.md)
niah generate --preset demo --width 448 --height 252 --lengths 8 --depths 50 --needles-per-cell 6 \
  --families colour,shape,count,position,number,word --out "$work/needles-near" -q > /dev/null
niah inspect "$work/needles-near" --needles-sheet figures/needles_near.png > /dev/null
niah generate --preset demo --width 448 --height 252 --lengths 8 --depths 50 --needles-per-cell 2 \
  --families colour,number --distractor-kind scene --out "$work/needles-scene" -q > /dev/null
niah inspect "$work/needles-scene" --needles-sheet figures/needles_scene.png > /dev/null
# a report of the demo run with one cell clicked (needs chromium: scripts/install_test_tools.sh)
niah report "$work/demo/run" --out "$work/report.html" > /dev/null
python scripts/report_screenshot.py "$work/report.html" figures/report.png "tiny · videorope δ=2 · v-niah-d"
