"""An hf-only option given with a probe or tiny model would change nothing: refused in one line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from niah.cli import main


@pytest.mark.parametrize(("command", "model", "extra", "named"), [
    ("run", "probe", ["--dtype", "bfloat16"], "--dtype is an option of hf: models only"),
    ("run", "tiny:demo", ["--device", "cpu", "--chunk-tokens", "64"], "--device, --chunk-tokens are options"),
    ("run", "probe", ["--no-prefix-reuse"], "--no-prefix-reuse is an option"),
    ("demo", "probe", ["--video-layout", "contiguous"], "--video-layout is an option"),
])  # fmt: skip
def test_hf_options_with_another_model_are_refused(command, model, extra, named, small_dataset, tmp_path):
    out = tmp_path / "out"
    args = [command, *([str(small_dataset)] if command == "run" else []), "--model", model, "--out", str(out), *extra]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and named in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not out.exists()


def test_defaults_are_not_taken_for_given_options(small_dataset, tmp_path):
    res = CliRunner().invoke(main, ["run", str(small_dataset), "--model", "probe", "--variants", "vanilla", "--out",
                                    str(tmp_path / "out"), "--limit", "2", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
