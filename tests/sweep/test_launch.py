"""`niah run --gpus N`: N worker processes, one shard each, one GPU each; interrupt, resume, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner
from tiny_qwen import save_tiny_checkpoint

from niah.cli import main

PLUGIN = '''
import os, time
from niah.backends import BACKENDS, Backend, SampleResult
from niah.tasks import Outcome

class Slow(Backend):
    """Answers every sample after a pause, noting the GPU its worker was given."""
    name = "slow"
    def config(self):
        return {}
    def estimate_tokens(self, dataset, sample):
        return 1
    def run(self, samples, dataset):
        gate = os.environ.get("NIAH_TEST_GATE")
        for i, s in enumerate(samples):
            crash_on = os.environ.get("NIAH_TEST_CRASH_ON_GPU")
            if crash_on and os.environ.get("CUDA_VISIBLE_DEVICES") == crash_on:
                raise RuntimeError("simulated crash")
            while gate and i >= 2 and not os.path.exists(gate):  # 2 samples, then wait for the test
                time.sleep(0.01)
            yield SampleResult(s, {"mc": Outcome("A", True)},
                               scores={"gpu": os.environ.get("CUDA_VISIBLE_DEVICES")})

BACKENDS["slow"] = lambda arg, seed, options: Slow()
'''
ARGS = ["--variants", "m-rope,videorope", "--tasks", "v-niah", "--model", "slow"]  # 36 samples


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    path = tmp_path / "slow.py"
    path.write_text(PLUGIN)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return path


def records(run_dir):
    return [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]


def niah(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_workers_split_the_plan_one_gpu_each_and_merge(plugin, small_dataset, tmp_path):
    res = niah("--plugin", plugin, "run", "--model", "probe",
               small_dataset, "--out", tmp_path / "multi", "--gpus", 2, *ARGS)
    assert res.exit_code == 0, res.output
    assert "m-rope" in res.output and "videorope" in res.output  # the accuracy table
    assert niah("--plugin", plugin, "run", "--model", "probe",
                small_dataset, "--out", tmp_path / "one", *ARGS, "-q").exit_code == 0
    multi, one = records(tmp_path / "multi"), records(tmp_path / "one")
    assert [r["key"] for r in multi] == [r["key"] for r in one] and len(multi) == 36
    gpu_of = {r["variant"].split(":")[0]: set() for r in multi}
    for r in multi:
        gpu_of[r["variant"].split(":")[0]].add(r["scores"]["gpu"])
    assert gpu_of == {"m-rope": {"0"}, "videorope": {"1"}}  # contiguous halves of the plan, GPU 0 and GPU 1
    assert (tmp_path / "multi" / "summary.json").is_file()
    assert not list((tmp_path / "multi").glob("results.*-of-*.jsonl"))  # merged
    assert sorted(p.name for p in (tmp_path / "multi" / "logs").iterdir()) == ["rank.1-of-2.log", "rank.2-of-2.log"]


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="this machine has the GPUs asked for")
def test_errors_are_one_line_before_any_worker_starts(plugin, small_dataset, tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / "ckpt", "qwen2_vl")
    for args, needle in [
        (["--shard", "1/2"], "drop --shard"),
        (["--device", "cuda:1"], "drop --shard, --device"),
        (["--model", f"hf:{ckpt}"], f"--gpus 2 but this machine has {torch.cuda.device_count()} CUDA GPU"),
    ]:
        res = niah("--plugin", plugin, "run", "--model", "probe",
                   small_dataset, "--out", tmp_path / "o", "--gpus", 2, *ARGS, *args)
        assert res.exit_code == 2 and needle in res.output and len(res.output.strip().splitlines()) == 1, res.output
        assert not (tmp_path / "o").exists()


def test_a_failed_worker_is_named_and_the_others_results_kept(plugin, small_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("NIAH_TEST_CRASH_ON_GPU", "1")
    res = niah("--plugin", plugin, "run", "--model", "probe",
               small_dataset, "--out", tmp_path / "r", "--gpus", 2, *ARGS, "-q")
    assert res.exit_code == 2 and "worker 2/2 (GPU 1) exited 1: RuntimeError: simulated crash" in res.output
    assert "rerun the same command to resume" in res.output
    kept = [json.loads(x) for x in (tmp_path / "r" / "results.1-of-2.jsonl").read_text().splitlines()]
    assert len(kept) == 18 and {r["scores"]["gpu"] for r in kept} == {"0"}
    monkeypatch.delenv("NIAH_TEST_CRASH_ON_GPU")
    assert niah("--plugin", plugin, "run", "--model", "probe",
                small_dataset, "--out", tmp_path / "r", "--gpus", 2, *ARGS).exit_code == 0
    assert len({r["key"] for r in records(tmp_path / "r")}) == len(records(tmp_path / "r")) == 36


def test_ctrl_c_stops_every_worker_and_a_rerun_resumes(plugin, small_dataset, tmp_path):
    out = tmp_path / "r"
    argv = [sys.executable, "-m", "niah", "--plugin", str(plugin), "run", "--model", "probe",
            str(small_dataset), "--out", str(out),
            "--gpus", "2", *ARGS, "-q"]  # fmt: skip
    # each worker writes 2 samples, then waits for a file that is never made: the signal always
    # finds the run unfinished, however busy the machine (the deadline only bounds a broken run)
    env = {**os.environ, "NIAH_TEST_GATE": str(tmp_path / "never")}
    # Ctrl-C reaches a process whose SIGINT is not ignored; a shell's background job (a CI runner's
    # `cmd &`) passes it ignored to every child, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.time() + 600
    while sum(p.read_text().count("\n") for p in out.glob("results*.jsonl")) < 4:
        assert time.time() < deadline and proc.poll() is None, "the workers never wrote their first samples"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "rerun the same command to resume" in output
    saved = sum(p.read_text().count("\n") for p in out.glob("results*.jsonl"))
    assert 4 <= saved < 36 and not (out / "summary.json").exists()
    subprocess.run(argv, check=True, capture_output=True)
    done = records(out)
    assert len(done) == 36 and len({r["key"] for r in done}) == 36
