"""niah plot over a run recorded with --attention-heads: the attention figures and attention.csv,
whose numbers are recomputed here from attention.jsonl and results.jsonl."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
from click.testing import CliRunner

from niah.cli import main


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_attention_figures_and_table_follow_the_recorded_lines(small_dataset, tmp_path):
    run = tmp_path / "run"
    res = cli("run", small_dataset, "--model", "tiny:@demo", "--variants", "vanilla,m-rope", "--tasks",
              "v-niah,v-niah-d", "--attention-heads", "--out", run, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    res = cli("plot", run, "--out", tmp_path / "fig")
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "fig").iterdir()}
    assert {"attention_grid_tiny.png", "attention_lookalike_tiny.png", "attention_layers_tiny.png",
            "retrieval_heads_tiny_vanilla.png", "retrieval_heads_tiny_m-rope.png", "attention.md"} <= names
    results = {r["key"]: r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    masses, wrong = defaultdict(list), defaultdict(int)
    for line in (run / "attention.jsonl").read_text().splitlines():
        a = json.loads(line)
        r = results[a["key"]]
        group = (r["variant"], r["task"], str(r["length"]))
        masses[group].append(np.mean(a["mass"]["needle"]))
        wrong[group] += not r["correct"]
    rows = list(csv.DictReader((tmp_path / "fig" / "attention.csv").open()))
    assert len(rows) == len(masses)
    for row in rows:
        group = (row["variant"], row["task"], row["length"])
        assert float(row["needle"]) == np.round(np.mean(masses[group]), 4)
        assert float(row["needle_low"]) <= float(row["needle"]) <= float(row["needle_high"])
        assert int(row["wrong"]) == wrong[group]
        if wrong[group]:
            assert sum(float(row[v]) for v in ("missed", "found", "lured")) == 1.0
        assert (row["lookalike"] != "nan") == (row["task"] == "v-niah-d")


def test_a_run_without_attention_draws_no_attention_figure(small_dataset, tmp_path):
    assert cli("run", small_dataset, "--model", "probe", "--variants", "vanilla", "--out", tmp_path / "r",
               "-q").exit_code == 0  # fmt: skip
    assert cli("plot", tmp_path / "r", "--out", tmp_path / "fig").exit_code == 0
    assert not [p for p in (tmp_path / "fig").iterdir() if "attention" in p.name or "heads" in p.name]
