"""The sweep engine: one line per sample, resume after SIGKILL, shards, config checks, retries."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import pytest
from click.testing import CliRunner

from niah.backends import BACKENDS, Backend, SampleResult
from niah.cli import main
from niah.sweep.engine import RunConfig, prepare, run_sweep
from niah.sweep.plan import Shard
from niah.tasks import Outcome

VARIANTS = "vanilla,m-rope,videorope,hope,mrope-interleaved"


def lines(run_dir):
    return [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]


def content(records):
    """What must not change between runs: everything but the timing."""
    return {json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True) for r in records}


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_run_writes_one_line_per_sample_and_a_summary(small_dataset, tmp_path):
    res = cli("run", "--model", "probe", small_dataset, "--out", tmp_path / "r", "--variants", VARIANTS, "-q")
    assert res.exit_code == 0, res.output
    recs = lines(tmp_path / "r")
    assert len(recs) == 18 * 5 * 2 and len({r["key"] for r in recs}) == len(recs)
    for field in ("task", "variant", "model", "length", "depth", "needle", "insert_index", "prediction", "answer",
                  "correct", "seconds"):  # fmt: skip
        assert field in recs[0]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert {(g["variant"].split(":")[0], g["task"]) for g in summary["groups"]} == {
        (v, t) for v in VARIANTS.split(",") for t in ("v-niah", "v-niah-d")}  # fmt: skip
    run_json = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run_json["config"]["dataset_manifest_sha256"] and run_json["versions"]["niah"]
    # rerunning is a no-op that keeps every line
    assert cli("run", "--model", "probe",
               small_dataset, "--out", tmp_path / "r", "--variants", VARIANTS, "-q").exit_code == 0
    assert content(lines(tmp_path / "r")) == content(recs)


def test_lure_rate_is_recorded_summarised_tabled_and_plotted(small_dataset, tmp_path):
    assert cli("run", "--model", "probe",
               small_dataset, "--out", tmp_path / "r", "--variants", "vanilla,videorope", "-q").exit_code == 0
    cells = [json.loads(x) for x in (small_dataset / "cells.jsonl").read_text().splitlines()]
    shown = {c["id"]: {"ABCD"[i["answer"]] for i in c["insertions"] if i["kind"] == "distractor"} for c in cells}
    recs = lines(tmp_path / "r")
    for r in recs:
        if r["task"] == "v-niah":
            assert r["lured"] is None
        else:  # lured: the prediction is the letter (in the cell's order) of a lure its distractors show (cells.jsonl)
            assert r["lured"] == (r["prediction"] in shown[r["cell"]]) and not (r["lured"] and r["correct"])
    distract = [r for r in recs if r["task"] == "v-niah-d"]
    assert any(r["lured"] for r in distract)  # the probe is fooled by some look-alikes, so the rate can be tested
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    for g in summary["groups"]:
        mine = [r["lured"] for r in distract if r["variant"] == g["variant"]]
        assert g["lure_rate"] == (sum(mine) / len(mine) if g["task"] == "v-niah-d" else None)
    assert cli("plot", tmp_path / "r", "--out", tmp_path / "f").exit_code == 0
    table = list(csv.DictReader((tmp_path / "f" / "summary.csv").read_text().splitlines()))
    rates = {g["variant"]: g["lure_rate"] for g in summary["groups"] if g["task"] == "v-niah-d"}
    lured = [row for row in table if row["task"] == "v-niah-d"]
    assert lured and all(row["lure_ci_low"] and row["lure_ci_high"] for row in lured)
    for row in lured:
        assert float(row["lure_rate"]) == pytest.approx(rates[row["variant"]], abs=5e-4)
        assert float(row["lure_ci_low"]) <= float(row["lure_rate"]) <= float(row["lure_ci_high"])
    assert all("lured" in (tmp_path / "f" / f"summary.{ext}").read_text() for ext in ("md", "tex"))


def test_resume_after_sigkill_equals_an_uninterrupted_run(small_dataset, tmp_path):
    args = [sys.executable, "-m", "niah", "run", "--model", "probe", str(small_dataset), "--variants", VARIANTS, "-q"]
    full = tmp_path / "full"
    subprocess.run([*args, "--out", str(full)], check=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--out", str(killed)])
    partial = killed / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not partial.exists() or partial.read_text().count("\n") < 20):
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = partial.read_text().count("\n")
    assert 0 < n_before < 180, "the kill must land mid-run"
    assert not (killed / "summary.json").exists()
    subprocess.run([*args, "--out", str(killed)], check=True)
    recs = lines(killed)
    assert len(recs) == 180 and len({r["key"] for r in recs}) == 180
    assert content(recs) == content(lines(full))


def test_shards_together_equal_the_unsharded_run(small_dataset, tmp_path):
    config = RunConfig(str(small_dataset), "probe", variants=["m-rope", "videorope"])
    run_sweep(config, tmp_path / "whole", quiet=True)
    assert run_sweep(config, tmp_path / "sharded", Shard(1, 2), quiet=True) is None  # half: no summary yet
    assert not (tmp_path / "sharded" / "results.jsonl").exists()
    assert run_sweep(config, tmp_path / "sharded", Shard(2, 2), quiet=True) is not None
    assert content(lines(tmp_path / "sharded")) == content(lines(tmp_path / "whole"))
    assert not list((tmp_path / "sharded").glob("results.*-of-*.jsonl"))


def test_shards_split_by_cost_give_a_long_prompt_its_own_block():
    samples = list(range(10))  # run order: nine short prompts, then one that costs as much as all nine
    costs = [1.0] * 9 + [9.0]
    assert Shard(1, 2).select(samples, costs) == list(range(9)) and Shard(2, 2).select(samples, costs) == [9]
    assert Shard(1, 2).select(samples) == [0, 1, 2, 3, 4]  # by count: the long prompt's block does 13 of 18


def test_sweep_shards_are_contiguous_in_run_order_and_of_equal_work(small_dataset):
    config = RunConfig(str(small_dataset), "probe", variants=["m-rope"], tasks=["v-niah"])
    whole = prepare(config, Shard())
    ordered = whole.backend.order(whole.plan)
    cost = {s.key: whole.backend.estimate_cost(whole.dataset, s) for s in ordered}
    assert len(set(cost.values())) > 1  # lengths 8, 16, 24: unequal prompts
    blocks = [prepare(config, Shard(i, 3)).shard_plan for i in (1, 2, 3)]
    assert [s.key for b in blocks for s in b] == [s.key for s in ordered]  # contiguous, disjoint, complete
    total = sum(cost.values())
    for block in blocks:
        assert abs(sum(cost[s.key] for s in block) - total / 3) <= max(cost.values())


def test_a_change_to_existing_samples_is_refused_with_what_differs(small_dataset, tmp_path):
    assert cli("run", "--model", "probe",
               small_dataset, "--out", tmp_path / "r", "--variants", "m-rope", "-q").exit_code == 0
    for args in (["--seed", "1"], ["--seed", "1", "--dry-run"]):  # the dry run says what the run will
        res = cli("run", "--model", "probe",
                  small_dataset, "--out", tmp_path / "r", "--variants", "m-rope", "-q", *args)
        assert res.exit_code == 2 and "seed: 0 → 1" in res.output and "--force" in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1
    res = cli("run", "--model", "probe",
              small_dataset, "--out", tmp_path / "r", "--variants", "m-rope", "--seed", "1", "--dry-run",
              "--force")  # fmt: skip
    assert res.exit_code == 0 and "--force: discards its results" in res.output
    res = cli("run", "--model", "probe",
              small_dataset, "--out", tmp_path / "r", "--variants", "videorope", "-q", "--seed", "1", "--force")
    assert res.exit_code == 0 and {r["variant"].split(":")[0] for r in lines(tmp_path / "r")} == {"videorope"}


class Flaky(Backend):
    """Fails every sample of the d100 cells on its first attempt in a process-wide set."""

    attempts: set[str] = set()

    def __init__(self):
        self.name = "flaky"

    def run(self, samples: Sequence, dataset) -> Iterator[SampleResult]:
        for s in samples:
            if s.cell.depth == 100 and s.key not in Flaky.attempts:
                Flaky.attempts.add(s.key)
                yield SampleResult(s, error="CUDA out of memory (simulated)")
            else:
                yield SampleResult(s, {"mc": Outcome("A", True)})


@pytest.fixture
def flaky_backend():
    BACKENDS["flaky"] = lambda arg, seed, options: Flaky()
    yield
    BACKENDS.pop("flaky")
    Flaky.attempts.clear()


def test_failed_samples_are_recorded_and_retried_on_resume(small_dataset, tmp_path, flaky_backend):
    config = RunConfig(str(small_dataset), model="flaky", variants=["m-rope"], tasks=["v-niah"])
    assert run_sweep(config, tmp_path / "r", quiet=True) is None  # incomplete: failures
    first = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    failed = [r for r in first if r["status"] == "failed"]
    assert len(failed) == 6 and all("out of memory" in r["error"] for r in failed)
    summary = run_sweep(config, tmp_path / "r", quiet=True)
    assert summary is not None and summary["groups"][0]["samples"] == 18
    recs = lines(tmp_path / "r")
    assert len(recs) == 18 and all(r["status"] == "ok" for r in recs)


class NaNScores(Backend):
    """A backend whose scores are NaN for depth-0 samples (as a variant with delta=nan gave)."""

    name = "nan"

    def run(self, samples: Sequence, dataset) -> Iterator[SampleResult]:
        for s in samples:
            bad = s.cell.depth == 0
            yield SampleResult(s, {"mc": Outcome("A", True)},
                               scores={"mass": float("nan") if bad else 0.5, "by_option": {"A": float("inf")}
                                       if bad else {"A": 0.1}})  # fmt: skip


def test_a_nan_score_fails_its_sample_loudly_and_never_counts(small_dataset, tmp_path):
    BACKENDS["nan"] = lambda arg, seed, options: NaNScores()
    try:
        config = RunConfig(str(small_dataset), model="nan", variants=["m-rope"], tasks=["v-niah"])
        assert run_sweep(config, tmp_path / "r", quiet=True) is None  # incomplete: the NaN samples failed
    finally:
        BACKENDS.pop("nan")
    def strict(constant: str) -> None:
        raise ValueError(f"{constant} in results.jsonl")

    lines_ = (tmp_path / "r" / "results.jsonl").read_text().splitlines()
    records = [json.loads(x, parse_constant=strict) for x in lines_]  # every line is strict JSON
    bad = [r for r in records if r["depth"] == 0]
    assert bad and all(r["status"] == "failed" and not r["correct"] for r in bad)
    assert all("non-finite score mass, by_option.A" in r["error"] for r in bad)
    assert all(r["status"] == "ok" for r in records if r["depth"] != 0)


def test_bad_input_is_one_line_exit_2_and_writes_nothing(small_dataset, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        ((tmp_path, "--out", tmp_path / "o"), "is not a niah dataset"),
        ((small_dataset, "--out", tmp_path / "o", "--variants", "videorop"), "did you mean videorope"),
        ((small_dataset, "--out", tmp_path / "o", "--tasks", "v-niah-x"), "unknown task 'v-niah-x'"),
        ((small_dataset, "--out", tmp_path / "o", "--model", "prob"), "unknown model backend 'prob'"),
        ((small_dataset, "--out", tmp_path / "o", "--lengths", "8,9"), "length 9 is not in the dataset"),
        ((small_dataset, "--out", blocker / "o"), "cannot write run dir"),
    ]
    for args, needle in cases:
        res = cli("run", *(args if "--model" in args else (*args, "--model", "probe")))
        assert res.exit_code == 2, res.output
        assert needle in res.output and len(res.output.strip().splitlines()) == 1, res.output
        assert not (tmp_path / "o").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(small_dataset, tmp_path):
    res = cli("run", "--model", "probe",
              small_dataset, "--out", tmp_path / "o", "--dry-run", "--variants", "m-rope", "--limit", "4")
    assert res.exit_code == 0 and "samples    8" in res.output and "tokens" in res.output
    assert not (tmp_path / "o").exists()


class Interrupted(Backend):
    """Answers 5 samples, then the user presses Ctrl-C."""

    def __init__(self):
        self.name = "interrupted"

    def run(self, samples: Sequence, dataset) -> Iterator[SampleResult]:
        for i, s in enumerate(samples):
            if i == 5:
                raise KeyboardInterrupt
            yield SampleResult(s, {"mc": Outcome("A", True)})


def test_ctrl_c_keeps_finished_samples_and_exits_130(small_dataset, tmp_path):
    BACKENDS["interrupted"] = lambda arg, seed, options: Interrupted()
    try:
        res = cli("run", small_dataset, "--out", tmp_path / "r", "--model", "interrupted", "--variants", "m-rope",
                  "--tasks", "v-niah", "-q")  # fmt: skip
    finally:
        BACKENDS.pop("interrupted")
    assert res.exit_code == 130 and "rerun the same command to resume" in res.output
    saved = (tmp_path / "r" / "results.jsonl").read_text().splitlines()
    assert len(saved) == 5 and all(json.loads(x)["status"] == "ok" for x in saved)
    assert not (tmp_path / "r" / "summary.json").exists()


@pytest.mark.parametrize("bad", [b"{}", b"null", b"\xff\xfe not utf-8", b'{"key": 3}', b"[1, 2]"])
def test_a_damaged_results_line_is_reported_skipped_and_recomputed(small_dataset, tmp_path, bad):
    args = ["run", "--model", "probe",
            small_dataset, "--out", tmp_path / "r", "--variants", "vanilla", "--tasks", "v-niah", "-q"]
    assert cli(*args).exit_code == 0
    path = tmp_path / "r" / "results.jsonl"
    lines_ = path.read_bytes().splitlines()
    lost = json.loads(lines_[2])["key"]
    path.write_bytes(b"\n".join([*lines_[:2], bad, *lines_[3:]]) + b"\n")  # line 3 replaced by damage
    for command in (["plot", tmp_path / "r", "--out", tmp_path / "f"], ["report", tmp_path / "r", "--out",
                                                                        tmp_path / "rep.html"]):  # fmt: skip
        res = cli(*command)
        assert res.exit_code == 0, res.output
        assert "ignored 1 damaged line in" in res.output and "(line 3)" in res.output
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert "ignored 1 damaged line" in res.output and "run again" in res.output
    keys = [json.loads(x)["key"] for x in path.read_text().splitlines()]
    assert sorted(keys) == sorted(set(keys)) and lost in keys and len(keys) == len(lines_)


@pytest.mark.parametrize("bad", ["", "null", "[]", '{"config": 3}', "{not json"])
def test_a_damaged_run_json_is_one_line(small_dataset, tmp_path, bad):
    args = ["run", "--model", "probe",
            small_dataset, "--out", tmp_path / "r", "--variants", "vanilla", "--tasks", "v-niah", "-q"]
    assert cli(*args).exit_code == 0
    (tmp_path / "r" / "run.json").write_text(bad)
    for command in (args, ["plot", tmp_path / "r", "--out", tmp_path / "f"],
                    ["report", tmp_path / "r", "--out", tmp_path / "rep.html"]):  # fmt: skip
        res = cli(*command)
        assert res.exit_code == 2 and "run.json" in res.output and "corrupt" in res.output, (command, res.output)
        assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", ["no options", "options not a dict", "no cells"])
def test_a_damaged_dataset_is_one_line_and_leaves_no_run_dir(small_dataset, tmp_path, damage):
    import shutil

    data = shutil.copytree(small_dataset, tmp_path / "data")
    manifest = json.loads((data / "manifest.json").read_text())
    if damage == "no cells":
        (data / "cells.jsonl").unlink()
    else:
        manifest["options"] = [] if damage == "options not a dict" else manifest.pop("options") and None
        if manifest["options"] is None:
            manifest.pop("options")
        (data / "manifest.json").write_text(json.dumps(manifest))
    for command in (["run", "--model", "probe",
                     data, "--out", tmp_path / "r", "-q"], ["inspect", data], ["audit", data]):
        res = cli(*command)
        assert res.exit_code == 2 and "incomplete or corrupt" in res.output, (command, res.output)
        assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_shard_starting_while_another_writes_run_json_is_not_refused(small_dataset, tmp_path):
    """Two ranks starting at once: one found the other's temporary .run.json.PID.tmp and called the
    run dir foreign (seen once in CI)."""
    out = tmp_path / "r"
    out.mkdir()
    (out / ".lock").touch()
    (out / ".run.json.12345.tmp").write_text("{")  # another rank, mid-write
    res = cli("run", "--model", "probe",
              small_dataset, "--out", out, "--variants", "vanilla", "--tasks", "v-niah", "-q")
    assert res.exit_code == 0, res.output
    (out / "notes.txt").write_text("mine")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    res = cli("run", "--model", "probe", small_dataset, "--out", other, "-q")
    assert res.exit_code == 2 and "is not a niah run dir" in res.output  # a user's folder is still refused


def test_backends_that_cannot_answer_a_task_skip_it_and_keep_the_others(tmp_path):
    """The probe retrieves one frame: it skips ordering (a relation between frames) on every needle,
    says so once, and still runs v-niah on the same needles."""
    data = tmp_path / "d"
    res = CliRunner().invoke(main, ["generate", "--preset", "demo", "--needles-per-cell", "3", "--lengths", "16",
                                    "--tasks", "v-niah,ordering", "--out", str(data), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["run", str(data), "--model", "probe", "--variants", "m-rope", "--tasks",
                                    "v-niah,ordering", "--out", str(tmp_path / "r"), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "skipping what probe cannot answer (ordering (every needle): its answer is a relation" in res.output
    records = lines(tmp_path / "r")
    assert {r["task"] for r in records} == {"v-niah"} and len(records) == 4 * 3
    res = CliRunner().invoke(main, ["run", str(data), "--model", "probe", "--tasks", "ordering",
                                    "--out", str(tmp_path / "r2")])  # fmt: skip
    assert res.exit_code == 2 and "probe can answer no sample" in res.output and not (tmp_path / "r2").exists()


def test_a_counting_item_with_no_key_frame_is_recorded(tmp_path):
    """A count of 0 shows the key in no frame: its record has no needle index (not a crash)."""
    from types import SimpleNamespace

    from niah.backends.base import Sample
    from niah.data.dataset import Dataset
    from niah.rope import resolve_variant
    from niah.sweep.engine import record
    from niah.tasks import TASKS

    data = tmp_path / "d"
    assert cli("generate", "--preset", "demo", "--needles-per-cell", "3", "--tasks", "counting", "--out", data,
               "-q").exit_code == 0  # fmt: skip
    ds = Dataset(data)
    empty = [c for c in ds.task_cells["counting"] if c.asked.options[c.asked.answer] == "0"]
    assert empty  # the demo grid holds counts of 0
    task = TASKS["counting"]
    sample = Sample(task, resolve_variant("m-rope"), empty[0], task.query(ds, empty[0]))
    result = SampleResult(sample, {"mc": Outcome("A", True)})
    line = record(result, SimpleNamespace(name="stub", marks={}), ds)
    assert line["insert_index"] is None and line["frames"] == empty[0].length + 6 and line["correct"] is True
