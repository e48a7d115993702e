"""`niah demo` end to end through the CLI, and its rerun reusing what exists."""

from __future__ import annotations

from click.testing import CliRunner

from niah.cli import main


def test_demo_end_to_end_and_rerun(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert str(out / "figures" / "grid_probe.png") in res.output
    assert "vanilla" in res.output and "v-niah-d" in res.output
    assert (out / "figures" / "grid_probe.png").stat().st_size > 10_000
    lines = (out / "run" / "results.jsonl").read_text().count("\n")
    mtime = (out / "data" / "haystack.mp4").stat().st_mtime_ns
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "-q", "--variants", "vanilla,m-rope,videorope,hope,"
                                    "tad,rope-tie,m-rope-time,mrope-interleaved"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (out / "run" / "results.jsonl").read_text().count("\n") == lines
    assert (out / "data" / "haystack.mp4").stat().st_mtime_ns == mtime
