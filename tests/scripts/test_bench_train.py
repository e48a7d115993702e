"""scripts/bench_train.py runs and reports one row per variant with positive speeds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench_train.py"


def test_bench_train_prints_speed_per_variant(capsys):
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--variants", "vanilla,m-rope", "--steps", "2", "--warmup", "1", "--threads", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["variant", "samples/s", "tokens/s"] and len(lines) == 3
    for line in lines[1:]:
        name, samples, tokens, ratio = line.split()
        assert float(samples) > 0 and float(tokens) > float(samples) and ratio.endswith("x")
    assert lines[1].split()[-1] == "1.00x"
