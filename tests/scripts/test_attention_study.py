"""scripts/attention_study.py on 2 needles: it generates, runs with --attention-heads, plots, and
prints one paired difference of needle attention per task × length × pair of variants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from script_loader import SCRIPTS


def test_the_study_prints_every_paired_difference(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, str(SCRIPTS / "attention_study.py"), "--work", str(tmp_path / "w"),
                          "--needles", "2"], capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stdout.splitlines() if " frames  " in x]
    assert len(lines) == 2 * 2 * 3  # tasks × lengths × pairs
    assert all("Holm" in x and "(10 samples, 2 needles)" in x for x in lines)
    assert (tmp_path / "w" / "figures" / "attention_lookalike_tiny.png").is_file()
