"""Tasks build queries from cells and declare their metrics; a new task is one registration."""

from __future__ import annotations

import json

from click.testing import CliRunner

from niah.cli import main
from niah.data.dataset import Dataset
from niah.tasks import TASKS
from niah.tasks.metrics import degenerate, generated_outcome, parse_choice

PLUGIN = '''
from niah.tasks import PAPER_METRICS, TASKS, Task, register
from niah.tasks.needle import needle_query
from dataclasses import replace


def lookalikes_only(dataset, cell):
    """The needle among its look-alikes, no haystack frame."""
    q = needle_query(dataset, cell, lookalikes=True)
    keep = [k for k, ref in enumerate(q.frames) if ref.kind != "haystack"]
    return replace(q, frames=tuple(q.frames[k] for k in keep), shows=tuple(q.shows[k] for k in keep))


if "lookalikes-only" not in TASKS:
    register(Task("lookalikes-only", "the needle among its look-alikes", lookalikes_only, PAPER_METRICS))
'''


def test_v_niah_d_queries_show_the_cells_insertions_and_v_niah_only_the_needle(small_dataset):
    ds = Dataset(small_dataset)
    for cell in ds.cells:
        plain, hard = TASKS["v-niah"].query(ds, cell), TASKS["v-niah-d"].query(ds, cell)
        needle = ds.needle(cell)
        kinds = [r.kind for r in plain.frames]
        assert kinds.count("needle") == 1 and "distractor" not in kinds
        assert len(hard.frames) == cell.num_frames and plain.lures is None
        assert hard.options == tuple(needle.options) and hard.answer == needle.options[needle.answer]
        inserted = [k for k, r in enumerate(hard.frames) if r.kind != "haystack"]
        assert inserted == [i.index for i in cell.insertions]
        for k, ins in zip(inserted, cell.insertions, strict=True):
            assert hard.shows[k] == ins.answer  # the option each inserted frame shows, in the cell's order
        assert hard.lures == {i.answer for i in cell.insertions if i.kind == "distractor"}
        assert hard.answer_index not in hard.lures  # decoys show the answer and are never lures


def test_a_task_registered_by_a_plugin_runs_end_to_end(small_dataset, tmp_path):
    plugin = tmp_path / "task.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["--plugin", str(plugin), "run", str(small_dataset), "--model", "probe",
                                    "--tasks", "lookalikes-only", "--variants", "m-rope", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert records and {r["task"] for r in records} == {"lookalikes-only"} and {r["metric"] for r in records} == {
        "probe"}  # fmt: skip
    cells = {c["id"]: c for c in map(json.loads, (small_dataset / "cells.jsonl").read_text().splitlines())}
    assert all(r["frames"] == len(cells[r["cell"]]["insertions"]) for r in records)  # no haystack frame shown


def test_generated_text_is_parsed_as_lmms_eval_parses_it():
    assert parse_choice("The best answer is B.", "ABCD") == "B"
    assert parse_choice("Answer: (C) green", "ABCD") == "C"
    assert parse_choice("none of these", "ABCD") == ""
    assert degenerate("!!!!") and degenerate("  ") and not degenerate("A") and not degenerate("B.")
    said = generated_outcome("!!!!!!!!", "ABCD", "A")
    assert (said.prediction, said.correct, said.degenerate) == ("", False, True)
    assert generated_outcome("D", "ABCD", "D") == generated_outcome("D", "ABCD", "D") and generated_outcome(
        "D", "ABCD", "D").correct  # fmt: skip
    assert generated_outcome("Apple.", "", "apple").correct and not generated_outcome("pear", "", "apple").correct
