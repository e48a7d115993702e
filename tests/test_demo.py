"""`niah demo` end to end through the CLI: the shipped tiny models by default, the probe on
request, and a rerun reusing what exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from niah.backends.tiny import shipped_models, trained_variants
from niah.cli import main
from niah.rope import VARIANTS, resolve_variant

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_the_shipped_tiny_models_and_rerun_reuses_everything(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert str(out / "figures" / "grid_tiny.png") in res.output
    assert "skipping what tiny cannot answer (v-niah, v-niah-d on n001-position" in res.output  # said once
    records = [json.loads(x) for x in (out / "run" / "results.jsonl").read_text().splitlines()]
    shipped = trained_variants("demo")
    assert {r["variant"] for r in records} == set(shipped) and len(shipped) >= 3
    assert {r["task"] for r in records} == {"v-niah", "v-niah-d"}
    config = json.loads((out / "run" / "run.json").read_text())["config"]
    assert config["backend"]["models"] == str(shipped_models()["demo"].resolve())
    pinned = (ROOT / "figures" / "demo_summary.md").read_text()
    moved = "the demo's table moved: rerun scripts/make_figures.sh and update README"
    assert (out / "figures" / "summary.md").read_text() == pinned, moved
    readme = (ROOT / "README.md").read_text()
    for row in pinned.splitlines()[2:]:  # README's console block shows the same numbers
        model, variant, _, *numbers = (c.strip() for c in row.strip("|").split("|"))  # the console names the metric
        assert re.search(rf"{model} +{re.escape(variant)} +value_choice +" + " +".join(map(re.escape, numbers)),
                         readme), row  # fmt: skip
    lines = len(records)
    mtime = (out / "data" / "haystack.mp4").stat().st_mtime_ns
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert (out / "run" / "results.jsonl").read_text().count("\n") == lines
    assert (out / "data" / "haystack.mp4").stat().st_mtime_ns == mtime


def test_demo_with_the_probe_runs_every_registered_variant(tmp_path):
    out = tmp_path / "probe"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "--model", "probe", "-q"])
    assert res.exit_code == 0, res.output
    assert str(out / "figures" / "grid_probe.png") in res.output
    assert (out / "figures" / "grid_probe.png").stat().st_size > 10_000
    lines = (out / "run" / "results.jsonl").read_text().splitlines()
    variants = {json.loads(x)["variant"].split(":")[0] for x in lines}
    runnable = {n for n in VARIANTS if not resolve_variant(n).per_head}  # mhrope: one table per KV head
    assert variants == runnable and {"vanilla", "videorope", "hope", "tad", "vrope", "circlerope"} <= variants


def test_demo_out_demo_in_a_folder_holding_a_demo_dir_uses_the_shipped_models(tmp_path, monkeypatch):
    """`tiny:demo` resolved ./demo before the shipped models: `niah demo --out demo` then failed and
    left demo/data behind. The demo names the shipped set unambiguously (tiny:@demo)."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["demo", "--out", "demo", "-q"])
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "demo" / "run" / "run.json").read_text())["config"]
    assert config["backend"]["models"] == str(shipped_models()["demo"].resolve())
    (tmp_path / "other" / "demo").mkdir(parents=True)  # an unrelated ./demo folder
    monkeypatch.chdir(tmp_path / "other")
    assert CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "again"), "-q"]).exit_code == 0
    res = CliRunner().invoke(main, ["run", str(tmp_path / "demo" / "data"), "--model", "tiny:@nope", "--out", "r"])
    assert res.exit_code == 2 and "no shipped tiny models named 'nope'" in res.output
