#!/usr/bin/env bash
# Regenerates every figure under figures/ from real runs of niah (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
niah rope plot m-rope --out figures/rope_m-rope.png
niah rope plot videorope --out figures/rope_videorope.png
niah rope plot vanilla m-rope m-rope-time mrope-interleaved videorope hope --out figures/rope_variants.png
