"""scripts/bench_hf.py's GPU stages at toy sizes on the CPU (--gpu --smoke): the code a GPU
session runs, checked before that session spends device time on it."""

from __future__ import annotations

import json
import sys

import pytest
from script_loader import load_script


@pytest.fixture(scope="module")
def bench():
    module = load_script("bench_hf")
    yield module
    del sys.modules["bench_hf"]


def test_gpu_stages_run_at_toy_size_and_record_their_numbers(bench, tmp_path, capsys):
    with pytest.raises(SystemExit, match="run --stages prefill first"):
        bench.main(["--gpu", "--smoke", "--workdir", str(tmp_path), "--stages", "estimate"])
    bench.main(["--gpu", "--smoke", "--workdir", str(tmp_path), "--stages", "peak,prefill"])
    bench.main(["--gpu", "--smoke", "--workdir", str(tmp_path), "--stages", "grid,estimate"])  # builds on the file
    record = json.loads((tmp_path / "bench_hf_gpu.json").read_text())
    assert record["peak"]["tflops"] > 0
    rows = record["prefill"]["rows"]
    assert {(r["tokens"], r["attention"]) for r in rows} == {
        (256, "sdpa"), (256, "sdpa-stock"), (512, "sdpa"), (512, "sdpa-stock"), (1024, "sdpa")}  # fmt: skip
    grid = record["grid"]
    assert grid["samples"] == 9 and grid["same_predictions"] == 1.0 and grid["max_logprob_gap"] < 1e-4
    assert grid["reuse"]["tokens"] < grid["naive"]["tokens"]
    estimate = record["estimate"]
    assert estimate["samples_per_variant"] == 5 * 6 * 5 * 2
    assert estimate["reuse"]["tokens"] < estimate["naive"]["tokens"]
    assert "reuse/naive" in capsys.readouterr().out


def test_cost_model_recovers_a_quadratic_and_charges_only_the_suffix(bench):
    a, b = 2e-5, 6e-10
    rows = [{"attention": "sdpa", "tokens": n, "seconds": a * n + b * n * n} for n in (16384, 65536, 147456)]
    rows.append({"attention": "sdpa-stock", "tokens": 65536, "seconds": 99.0})  # not ours: ignored
    fa, fb = bench.fit_cost({"rows": rows})
    assert fa == pytest.approx(a, rel=1e-6) and fb == pytest.approx(b, rel=1e-6)
    full = bench.predicted_seconds([(0, 100_000)], fa, fb)
    suffix = bench.predicted_seconds([(60_000, 100_000)], fa, fb)
    head = bench.predicted_seconds([(0, 60_000)], fa, fb)
    assert suffix == pytest.approx(full - head)
