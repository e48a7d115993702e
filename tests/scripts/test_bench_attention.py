"""scripts/bench_attention.py at toy sizes on the CPU (--smoke): the code a GPU session runs to
measure what --attention costs, checked before that session spends device time on it."""

from __future__ import annotations

import json
import sys

from script_loader import SCRIPTS, load_script


def test_the_benchmark_measures_with_and_without_the_recorder(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it imports bench_hf's prefill, as when run from scripts/
    bench = load_script("bench_attention")
    try:
        bench.main(["--smoke", "--reps", "1", "--json", str(tmp_path / "b.json")])
    finally:
        del sys.modules["bench_attention"]
    record = json.loads((tmp_path / "b.json").read_text())
    assert [r["tokens"] for r in record["rows"]] == [64, 256]
    assert all(r["without_s"] > 0 and r["with_s"] > 0 and r["recorder_alone_s"] > 0 for r in record["rows"])
    assert record["alone_at_long"]["layers"] == 28 and record["alone_at_long"]["seconds"] > 0
    assert "the recorder alone at 1,024 tokens" in capsys.readouterr().out
