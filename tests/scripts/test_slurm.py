"""scripts/slurm_sweep.sbatch: the tasks of a job array, run at once as separate CPU processes,
together equal the unsharded run and merge into one results.jsonl."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

from niah.cli import main

SCRIPT = Path(__file__).parents[2] / "scripts" / "slurm_sweep.sbatch"


def test_a_job_array_equals_the_unsharded_run(small_dataset, tmp_path):
    base = {**os.environ, "DATASET": str(small_dataset), "OUT": str(tmp_path / "array"), "MODEL": "probe",
            "VARIANTS": "vanilla,m-rope",
            "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0"}  # fmt: skip
    tasks = [subprocess.Popen(["bash", str(SCRIPT)], env={**base, "SLURM_ARRAY_TASK_ID": str(i)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(3)]  # fmt: skip
    for task in tasks:
        out, _ = task.communicate(timeout=300)
        assert task.returncode == 0, out
    whole = tmp_path / "whole"
    assert CliRunner().invoke(main, ["run", "--model", "probe",
                                     str(small_dataset), "--variants", "vanilla,m-rope", "--out", str(whole),
                                     "-q"]).exit_code == 0  # fmt: skip

    def content(run):
        return sorted(json.dumps({k: v for k, v in json.loads(x).items() if k != "seconds"}, sort_keys=True)
                      for x in (run / "results.jsonl").read_text().splitlines())  # fmt: skip

    assert content(tmp_path / "array") == content(whole)
    assert not list((tmp_path / "array").glob("results.*-of-*.jsonl"))  # merged
    assert (tmp_path / "array" / "summary.json").is_file()


def test_outside_a_job_array_it_says_how_to_run_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    res = subprocess.run(["bash", str(SCRIPT)], env={**env, "DATASET": "d", "OUT": str(tmp_path / "o")},
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode != 0 and "sbatch --array=1-N" in res.stderr
