"""A run dir grows over a superset plan (computing only what is new), refuses changes to existing
samples, follows a moved dataset by its manifest hash, and is held by one process at a time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from niah.cli import main


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def lines(run_dir):
    return (run_dir / "results.jsonl").read_text().splitlines()


def test_a_run_grows_by_lengths_and_variants_and_follows_a_moved_dataset(small_dataset, tmp_path):
    run = tmp_path / "r"
    assert cli("run", "--model", "probe",
               small_dataset, "--out", run, "--variants", "vanilla", "--lengths", "8", "-q").exit_code == 0
    first = lines(run)
    moved = tmp_path / "moved"
    shutil.copytree(small_dataset, moved)  # the same dataset (manifest hash) at another path
    grow = ["--variants", "vanilla,m-rope", "--lengths", "8,16"]
    plan = cli("run", "--model", "probe", moved, "--out", run, *grow, "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert "grows: + variants m-rope; + lengths 16" in plan.output
    res = cli("run", "--model", "probe", moved, "--out", run, *grow, "-q")
    assert res.exit_code == 0, res.output
    second = lines(run)
    assert set(first) <= set(second)  # byte-identical lines: the first run's samples were kept, not recomputed
    assert f"{len(first)} already in {run}; {len(second) - len(first)} to run" in plan.output
    records = [json.loads(x) for x in second]
    assert {(r["variant"].split(":")[0], r["length"]) for r in records} == {
        (v, n) for v in ("vanilla", "m-rope") for n in (8, 16)}  # fmt: skip
    assert len({r["key"] for r in records}) == len(records)  # nothing twice
    config = json.loads((run / "run.json").read_text())["config"]
    assert config["dataset"] == str(moved.resolve()) and config["lengths"] == [8, 16]
    assert [v.split(":")[0] for v in config["variants"]] == ["vanilla", "m-rope"]
    # a subset run afterwards computes nothing and keeps the larger plan's results and run.json
    assert cli("run", "--model", "probe",
               moved, "--out", run, "--variants", "vanilla", "--lengths", "8", "-q").exit_code == 0
    assert sorted(lines(run)) == sorted(second)
    assert json.loads((run / "run.json").read_text())["config"]["lengths"] == [8, 16]


def test_another_dataset_is_refused(small_dataset, tmp_path):
    run = tmp_path / "r"
    assert cli("run", "--model", "probe",
               small_dataset, "--out", run, "--variants", "vanilla", "--limit", "2", "-q").exit_code == 0
    other = tmp_path / "other"
    assert cli("generate", "--preset", "demo", "--width", 112, "--height", 56, "--lengths", "8", "--depths", "50",
               "--needles-per-cell", 1, "--seed", 5, "--out", other, "-q").exit_code == 0  # fmt: skip
    res = cli("run", "--model", "probe", other, "--out", run, "--variants", "vanilla", "-q")
    assert res.exit_code == 2 and "dataset_manifest_sha256" in res.output and "--force" in res.output


HOLDER = """
import sys, time
from niah.sweep.store import ResultsStore
store = ResultsStore.open(sys.argv[1], {"dataset_manifest_sha256": "x"})
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_process_on_a_run_dir_is_refused_and_a_killed_one_leaves_no_stuck_lock(small_dataset, tmp_path):
    run = tmp_path / "r"
    assert cli("run", "--model", "probe",
               small_dataset, "--out", run, "--variants", "vanilla", "--limit", "2", "-q").exit_code == 0
    config = json.loads((run / "run.json").read_text())["config"]
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.replace('{"dataset_manifest_sha256": "x"}', repr(config)),
                               str(run)], stdout=subprocess.PIPE, text=True, env=os.environ)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        res = cli("run", "--model", "probe", small_dataset, "--out", run, "--variants", "vanilla", "--limit", "4", "-q")
        assert res.exit_code == 2 and "is in use by another niah run" in res.output
        assert len(res.output.strip().splitlines()) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    time.sleep(0.1)
    res = cli("run", "--model", "probe", small_dataset, "--out", run, "--variants", "vanilla", "--limit", "4", "-q")
    assert res.exit_code == 0, res.output


def test_a_shard_that_sees_another_shard_write_run_json_mid_check_joins_the_run(tmp_path, monkeypatch):
    """Shards of one job start at once: the first writes run.json and its results file while a second
    is still deciding whether the dir is someone else's; the second must join the run, not refuse it
    (the race CI met in test_two_ranks_on_a_fresh_cache_encode_each_frame_once)."""
    from niah.sweep import store as store_module

    config = {"dataset_manifest_sha256": "x", "variants": ["vanilla"]}
    root = tmp_path / "r"
    root.mkdir()
    (root / ".lock.rank0").touch()
    real_foreign = store_module._foreign

    def first_shard_lands_meanwhile(path):
        (path / "run.json").write_text(json.dumps({"config": config, "versions": {}}))
        (path / "results.rank0.jsonl").write_text("")
        return real_foreign(path)

    monkeypatch.setattr(store_module, "_foreign", first_shard_lands_meanwhile)
    store = store_module.ResultsStore.open(root, config, ".rank1")
    store.close()
    recorded = json.loads((root / "run.json").read_text())["config"]
    assert {k: recorded[k] for k in config} == config and (root / "results.rank0.jsonl").exists()
