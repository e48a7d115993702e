#!/usr/bin/env bash
# Train tiny models for RoPE variants × seeds and evaluate them at 1×, 4× and 16× the longest
# training length on both tasks (accuracy, lure rate, mean ± sd over seeds): docs/train.md.
#
#   bash scripts/train_all.sh                                   # every registered variant (but per-head mhrope), seeds 0,1,2
#   VARIANTS=vanilla,m-rope,videorope SEEDS=0 STEPS=3000 THREADS=1 bash scripts/train_all.sh
#   NEEDLES=2 ...                                               # a smaller evaluation set (default 8 needles)
#
# Writes $WORK/models, $WORK/data, $WORK/runs/L<frames>/s<seed>, $WORK/figures/L<frames> (tables, figures).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${WORK:-train-all}"
variants="${VARIANTS:-$(python -c 'from niah.rope import VARIANTS as V, resolve_variant as r
print(",".join(v for v in V if not r(v).per_head))')}"
seeds="${SEEDS:-0,1,2}"
steps="${STEPS:+--steps $STEPS}"  # default: niah train's own
threads="${THREADS:-2}"
needles="${NEEDLES:-8}"
longest=12  # the default training lengths are 4-12 frames
# shellcheck disable=SC2086 # $steps is empty or two words
niah train --out "$work/models" --variants "$variants" --seeds "$seeds" $steps --threads "$threads" -q
lengths="$longest,$((4 * longest)),$((16 * longest))"
niah generate --preset demo --families colour --needles-per-cell "$needles" --lengths "$lengths" --depths 0:100:25 \
  --distractor-period 4 --seed 7 --out "$work/data" -q > /dev/null
for length in ${lengths//,/ }; do
  runs=()
  for seed in ${seeds//,/ }; do
    out="$work/runs/L$length/s$seed"
    niah run "$work/data" --model "tiny:$work/models,seed=$seed" --variants "$variants" --lengths "$length" \
      --out "$out" -q > /dev/null
    runs+=("$out")
  done
  niah plot "${runs[@]}" --out "$work/figures/L$length" > /dev/null
  echo "## $length frames ($((length / longest))x the longest training length)"
  cat "$work/figures/L$length/summary.md"
done
