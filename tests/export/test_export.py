"""`niah export`: Parquet rows `datasets` loads, frames equal niah's own, the card, lmms-eval's functions."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from niah.cli import main
from niah.data.dataset import Dataset
from niah.tasks import TASKS
from niah.tasks.metrics import generated_outcome

datasets = pytest.importorskip("datasets")

EVERY = "v-niah,v-niah-d,ordering,ordering-d,counting,multi-key,distance"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("src") / "data"
    res = cli("generate", "--preset", "demo", "--needles-per-cell", "3", "--lengths", "16,32", "--tasks", EVERY,
              "--out", out, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def exported(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "hub"
    res = cli("export", source, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    return out


def test_datasets_loads_every_config_and_a_rows_frames_are_niahs_own(source, exported):
    ds = Dataset(source)
    frames_module = load_module(exported / "niah_frames.py", "niah_frames")
    for task in EVERY.split(","):
        rows = datasets.load_dataset(str(exported), task, split="test")
        cells = TASKS[task].cells(ds)
        assert len(rows) == len(cells) and sorted(rows["cell"]) == sorted(c.id for c in cells)
        assert len(datasets.load_dataset(str(exported), f"{task}-L16", split="test")) == len(cells) // 2
        by_id = {c.id: c for c in cells}
        for row in [rows[0], rows[len(rows) - 1]]:
            query = TASKS[task].query(ds, by_id[row["cell"]])
            assert row["question"] == query.question and row["options"] == list(query.options)
            assert row["answer"] == query.answer_label and row["num_frames"] == len(query.frames)
            assert row["lure_letters"] == (None if query.lure_letters is None else sorted(query.lure_letters))
            theirs = frames_module.frames(row, exported)
            mine = {ref.key: px for ref, px in ds.frames(by_id[row["cell"]])}  # every frame the cell holds, decoded
            assert len(theirs) == len(query.frames)
            assert all(np.array_equal(t, mine[ref.key]) for t, ref in zip(theirs, query.frames, strict=True))


def test_the_card_has_the_hubs_front_matter_and_the_checksums_hold(exported, source):
    text = (exported / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert {"license", "task_categories", "size_categories", "configs", "pretty_name", "tags"} <= set(front)
    names = [c["config_name"] for c in front["configs"]]
    assert set(EVERY.split(",")) <= set(names) and "ordering-L32" in names
    assert sum(bool(c.get("default")) for c in front["configs"]) == 1
    for c in front["configs"]:
        assert all(list(exported.glob(f["path"])) for f in c["data_files"])
    assert Dataset(source).manifest_hash in text and "audit: no blind rule beats chance" in text
    sums = [line.split("  ", 1) for line in (exported / "SHA256SUMS").read_text().splitlines()]
    assert len(sums) == sum(1 for p in exported.rglob("*") if p.is_file()) - 1
    assert all(hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest for digest, name in sums)


def _utils(exported: Path):
    return load_module(exported / "lmms_eval_tasks" / "utils.py", "niah_lmms_utils")


def test_lmms_eval_functions_ask_and_score_as_niah_does(exported):
    from niah.backends.hf.prompt import question_text

    utils = _utils(exported)
    rows = datasets.load_dataset(str(exported), "v-niah-d", split="test")
    texts = ["A", "B.", "The answer is C", "Answer: D because", "", "!!!!", "I think (b)", "none of these",
             "The best option is A", "D D D", "c"]  # fmt: skip
    for row in rows:
        assert utils.doc_to_text(row) == question_text(row["question"], row["options"])
        for text in texts:
            mine = generated_outcome(text, string.ascii_uppercase[: len(row["options"])], row["answer"])
            theirs = utils.process_results(row, [text])["niah_generate"]
            assert (theirs["prediction"], theirs["correct"], theirs["degenerate"]) == (
                mine.prediction, mine.correct, mine.degenerate)
            assert theirs["lured"] == (mine.prediction in row["lure_letters"])
    results = [utils.process_results(r, [r["answer"]])["niah_generate"] for r in rows]
    assert utils.aggregate(results) == 1.0


def test_doc_to_visual_composes_a_video_of_the_rows_frames(exported, tmp_path, monkeypatch):
    import av

    monkeypatch.setenv("NIAH_VIDEO_CACHE", str(tmp_path / "cache"))
    utils = _utils(exported)
    row = datasets.load_dataset(str(exported), "ordering", split="test")[3]
    (path,) = utils.doc_to_visual(row)
    with av.open(path) as container:
        assert sum(1 for _ in container.decode(video=0)) == row["num_frames"]
    assert Path(path).is_relative_to(tmp_path / "cache")


def test_task_yaml_parses_and_names_the_export(exported):
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))
    for task in EVERY.split(","):
        config = yaml.load((exported / "lmms_eval_tasks" / f"niah_{task.replace('-', '_')}.yaml").read_text(), loader)
        assert config["dataset_path"] == str(exported) and config["dataset_name"] == task
        assert config["doc_to_visual"] == ("function", "utils.doc_to_visual")
        assert config["generation_kwargs"]["max_new_tokens"] == 16


def test_lmms_evals_own_loader_reads_the_folder(exported):
    lmms = pytest.importorskip("lmms_eval.tasks", reason="lmms-eval is not installed in the test environment")
    manager = lmms.TaskManager(include_path=str(exported / "lmms_eval_tasks"))
    assert "niah_ordering" in manager.all_tasks


def test_materialize_writes_a_video_per_row_and_dry_run_writes_nothing(source, tmp_path):
    import av

    res = cli("export", source, "--out", tmp_path / "dry", "--materialize", "--dry-run")
    assert res.exit_code == 0 and "videos       about" in res.output and "rows         168" in res.output
    assert not (tmp_path / "dry").exists()
    small = tmp_path / "small"  # one MP4 per row: a small dataset keeps the test short
    assert cli("generate", "--preset", "demo", "--lengths", "16", "--depths", "0,100", "--needles-per-cell", "3",
               "--tasks", "v-niah,distance", "--out", small, "-q").exit_code == 0  # fmt: skip
    res = cli("export", small, "--out", tmp_path / "m", "--materialize", "--no-audit", "-q")
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "m" / "videos").rglob("*.mp4"))) == 12
    row = datasets.load_dataset(str(tmp_path / "m"), "distance", split="test")[0]
    with av.open(str(tmp_path / "m" / row["video"])) as container:
        assert sum(1 for _ in container.decode(video=0)) == row["num_frames"]


def test_bad_exports_are_refused_in_one_line_and_touch_nothing(source, exported, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    res = cli("export", source, "--out", mine, "--no-audit")
    assert res.exit_code == 2 and "is not a niah export" in res.output and (mine / "notes.txt").read_text() == "keep"
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    res = cli("export", source, "--out", copy, "--no-audit")
    assert res.exit_code == 2 and "--force" in res.output
    assert cli("export", source, "--out", copy, "--no-audit", "--force").exit_code == 0
    import niah.export.hub as hub

    monkeypatch.setattr(hub.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    res = cli("export", source, "--out", tmp_path / "full", "--no-audit")
    assert res.exit_code == 2 and "MB are free" in res.output and not (tmp_path / "full").exists()
    assert not list(tmp_path.glob(".full*"))


LMMS_LOGS = Path(__file__).parents[1] / "fixtures" / "lmms_eval"  # lmms-eval 0.7.3's own output: see PROVENANCE.md


def test_lmms_evals_own_samples_files_import_as_the_cells_they_answer(tmp_path):
    """The dummy model answered "B" everywhere: the imported run must hold every cell of the dataset
    the log was made on (rebuilt by the same command), right exactly where that cell's answer is B."""
    data = tmp_path / "data"
    assert cli("generate", "--preset", "demo", "--needles-per-cell", "3", "--lengths", "16", "--tasks",
               "v-niah-d,ordering", "--out", data, "-q").exit_code == 0  # fmt: skip
    ds = Dataset(data)
    res = cli("import", "lmms-eval", *sorted(LMMS_LOGS.glob("*_samples_*.jsonl")), "--variant", "m-rope",
              "--out", tmp_path / "r")  # fmt: skip
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    for task in ("v-niah-d", "ordering"):
        mine = {r["cell"]: r for r in records if r["task"] == task}
        queries = {c.id: TASKS[task].query(ds, c) for c in TASKS[task].cells(ds)}
        assert set(mine) == set(queries)
        for cell, q in queries.items():
            assert mine[cell]["prediction"] == "B" and mine[cell]["correct"] == (q.answer_label == "B")
            assert mine[cell]["lured"] == (None if q.lure_letters is None else "B" in q.lure_letters)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    published = json.loads(next(LMMS_LOGS.glob("*_results.json")).read_text())["results"]
    for task in ("v-niah-d", "ordering"):  # lmms-eval's own aggregate, from the same samples
        name = "niah_" + task.replace("-", "_")
        assert summary["accuracy"][f"dummy (response=B)|m-rope|{task}"] == published[name]["niah_generate,none"]


def test_import_refuses_a_log_that_is_not_a_niah_export(tmp_path):
    log = tmp_path / "samples.jsonl"
    log.write_text(json.dumps({"doc_id": 0, "doc": {"question": "q"}, "filtered_resps": ["A"]}) + "\n")
    res = cli("import", "lmms-eval", log, "--model", "m", "--variant", "m-rope", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "not a sample of a niah export" in res.output and "it lacks task" in res.output
    assert not (tmp_path / "r").exists()
    alone = tmp_path / "x_samples_niah_ordering.jsonl"  # no lmms-eval results file beside it to name the model
    shutil.copy(next(LMMS_LOGS.glob("*_samples_niah_ordering.jsonl")), alone)
    res = cli("import", "lmms-eval", alone, "--variant", "m-rope", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "give --model NAME" in res.output and not (tmp_path / "r").exists()
    res = cli("import", "lmms-eval", alone, "--model", "m", "--variant", "m-rope", "--task", "v-niah-d",
              "--out", tmp_path / "r")  # fmt: skip
    assert res.exit_code == 2 and "drop --task" in res.output and not (tmp_path / "r").exists()
