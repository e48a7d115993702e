#!/usr/bin/env bash
# Regenerates every figure under figures/ from real runs of niah (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${NIAH_FIGURE_WORKDIR:-$(mktemp -d)}"
niah demo --out "$work/demo" -q --variants vanilla,m-rope,m-rope-time,mrope-interleaved,videorope,hope
cp "$work/demo/figures/grid_probe.png" figures/demo_grid.png
cp "$work/demo/figures/accuracy_vs_length_probe.png" figures/demo_accuracy_vs_length.png
cp "$work/demo/figures/summary.md" figures/demo_summary.md
niah rope plot m-rope --out figures/rope_m-rope.png
niah rope plot videorope --out figures/rope_videorope.png
niah rope plot vanilla m-rope m-rope-time mrope-interleaved videorope hope --out figures/rope_variants.png
