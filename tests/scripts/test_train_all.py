"""scripts/train_all.sh end to end at toy size: trains, evaluates at 1×, 4×, 16× and prints the tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "train_all.sh"


@pytest.mark.slow
def test_train_all_prints_a_table_per_length_with_seed_spread(tmp_path):
    env = {**os.environ, "WORK": str(tmp_path / "w"), "VARIANTS": "vanilla,m-rope", "SEEDS": "0,1", "STEPS": "2",
           "NEEDLES": "2", "SIZE": "--heads 4 --layers 2",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    # no time limit: a busy machine makes this slower, never wrong; the work is sized small instead
    out = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    for length, factor in ((12, 1), (48, 4), (192, 16)):
        assert f"## {length} frames ({factor}x the longest training length)" in out.stdout
    assert out.stdout.count("(20, 2 seeds)") == 2 * 2 * 3  # variants × tasks × lengths; 2 needles × 5 depths × 2 seeds
    assert "v-niah-d lured" in out.stdout
    assert (tmp_path / "w" / "figures" / "L192" / "grid_tiny.png").is_file()
    for length in (12, 48, 192):  # m-rope against vanilla on the same samples, per seed and length
        for seed in (0, 1):
            text = (tmp_path / "w" / "figures" / f"L{length}" / f"compare-s{seed}.txt").read_text()
            assert "(m-rope) − " in text and "(vanilla)" in text and "needles)" in text
    seeds = (tmp_path / "w" / "figures" / "compare-seeds.md").read_text()  # over the two seeds: the designs'
    assert seeds.startswith("| pair (2 seeds) |") and "| m-rope − vanilla |" in seeds and seeds in out.stdout
    model = json.loads((tmp_path / "w" / "models" / "m-rope-s1" / "config.json").read_text())["model"]
    assert (model["heads"], model["layers"]) == (4, 2)  # SIZE reaches niah train
    manifest = json.loads((tmp_path / "w" / "data" / "manifest.json").read_text())
    assert manifest["options"]["seed"] == 2026  # the test seed, used for nothing else
