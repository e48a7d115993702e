#!/usr/bin/env bash
# Rebuild references/videorope/<variant>/ (run dirs for niah plot) from the published files in
# references/videorope/sources/ (copied from github.com/Wiselnn570/VideoRoPE, see PROVENANCE.md).
#
#   bash scripts/make_references.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo="github.com/Wiselnn570/VideoRoPE@7712ca3f52b795284e0453badc6cf1642c1368c4"
folder="vision_niah_d/niah_output/Qwen2-VL-%s-128frames-16card_8k-context-330k-llava-video/all_accuracies.json"
for pair in vanilla:vanilla_rope tad:time_rope m-rope:m_rope videorope:t_scale2_change_freq; do
  ours=${pair%%:*} theirs=${pair##*:}
  # shellcheck disable=SC2059 # the folder is a format string
  niah import videorope "references/videorope/sources/$ours.json" --out "references/videorope/$ours" \
    --model "Qwen2-VL-7B (VideoRoPE paper)" --variant "$ours" --task v-niah \
    --source "$repo:$(printf "$folder" "$theirs")"
done
