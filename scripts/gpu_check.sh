#!/usr/bin/env bash
# The checks that need a GPU, for a machine with one (e.g. the device tool's H100). See docs/gpu.md.
#   bash scripts/gpu_check.sh tests            CUDA-only tests (niah train --device cuda too), the torchvision processor test, hf + rope tests
#   bash scripts/gpu_check.sh bench [STAGES [ARGS]]   scripts/bench_hf.py --gpu --stages STAGES ARGS
#                                              (stages: peak,prefill,grid,estimate; ARGS e.g. --smoke on a CPU)
#   bash scripts/gpu_check.sh attention        scripts/bench_attention.py --gpu: what --attention costs at 8K-64K tokens
# Logs and numbers go to $OUT (or /tmp/niah-gpu). The bench keeps its numbers in /tmp/niah-bench-hf between
# calls on a warm machine, so `bench peak,prefill` then `bench grid,estimate` builds one record.
# PyAV missing (the lent machine has none)? Carry its wheel in .whl/: docs/gpu.md says how.
set -euo pipefail
if ! python3 -c "import av" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-/tmp/niah-gpu}"
mkdir -p "$out"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi") | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
case "${1:-tests}" in
  tests)
    python3 -m pytest -q -rs tests/backends tests/rope tests/scripts tests/train 2>&1 | tee "$out/tests.log" ;;
  bench)
    python3 scripts/bench_hf.py --gpu --stages "${2:-peak,prefill,grid,estimate}" --workdir /tmp/niah-bench-hf \
      "${@:3}" 2>&1 | tee "$out/bench.log"
    cp /tmp/niah-bench-hf/bench_hf_gpu.json "$out/" ;;
  attention)
    (cd scripts && python3 bench_attention.py --gpu --json "$out/bench_attention_gpu.json" "${@:2}") 2>&1 \
      | tee "$out/bench_attention.log" ;;
  *) echo "usage: bash scripts/gpu_check.sh tests | bench [STAGES] | attention" >&2; exit 2 ;;
esac
