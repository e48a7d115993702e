"""Ordering, counting and distance cells: the answer follows from the find clauses and positions
alone, every depth row moves the needles, answers are balanced, and the audit's rules are at chance."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from niah.data.audit import audit
from niah.data.dataset import Dataset, NeedleRecord, cell_sequence
from niah.data.generate import generate, resolve_config
from niah.data.multi import MULTI_TASKS, multi_cells
from niah.errors import NiahError

LENGTHS = [16, 100, 1000, 3000]
DEPTHS = [0, 25, 50, 75, 100]


@pytest.fixture(scope="module")
def multi_dataset(tmp_path_factory) -> Dataset:
    out = tmp_path_factory.mktemp("multi") / "ds"
    tasks = "v-niah,v-niah-d,ordering,ordering-d,counting,multi-key,distance"
    config = resolve_config("demo", needles=6, lengths="16,40", tasks=tasks)
    return Dataset(generate(out, config))


def _keys_named(question: str) -> list[str]:
    """The 'colour shape' phrases a question names, read off its words (not niah's parser)."""
    words = re.findall(r"[a-z]+", question.lower())
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)
            if b in ("star", "triangle", "cross", "diamond") and a not in ("a", "an", "the")]  # fmt: skip


def _frame_keys(ds: Dataset, needles: dict[str, NeedleRecord], cell) -> list[tuple[str | None, str | None]]:
    """(key object, value) each frame of the cell shows (None: a haystack frame), from needles.jsonl."""
    shown = []
    for ref in cell_sequence(cell):
        record = needles.get(ref.needle)
        if ref.kind == "haystack":
            shown.append((None, None))
        elif ref.kind == "needle":  # image 0: the needle; 1 + o: its key beside option o
            value = record.answer if ref.index == 0 else next(s["value"] for s in record.same_key
                                                              if s["image"] == f"{record.id}.k{ref.index - 1}.png")
            shown.append((record.key, record.options[value]))
        else:
            shown.append((record.distractors[ref.index].key, None))
    return shown


def _answer_from_frames(task: str, question: str, shown: list[tuple[str | None, str | None]]) -> str:
    named = _keys_named(question)
    keys = [k for k, _ in shown]
    where = {k: [i for i, s in enumerate(keys) if s == k] for k in named}
    if task == "counting":
        return str(len(where[named[0]]))
    if task == "multi-key":
        return ", ".join(sorted(shown[i][1] for i in where[named[0]]))
    assert all(len(v) == 1 for v in where.values()), where  # each find clause is met by exactly one frame
    first = sorted(named, key=lambda k: where[k][0])
    return ", ".join(first) if task.startswith("ordering") else f"the {first[0]}"


@pytest.mark.parametrize("task", list(MULTI_TASKS))
def test_answer_is_determined_by_find_clauses_and_positions_at_any_length(multi_dataset, task):
    needles = multi_dataset.needles
    cells = multi_cells(task, 3, LENGTHS, DEPTHS, list(needles.values()), period=5)
    assert len(cells) == len(LENGTHS) * len(DEPTHS) * len(needles)
    for cell in cells:
        asked = cell.asked
        shown = _frame_keys(multi_dataset, needles, cell)
        assert len(shown) == cell.length + len(cell.insertions)
        answer = asked.options[asked.answer]
        if task == "multi-key":  # a set: compared without its written order
            answer = ", ".join(sorted(answer.split(", ")))
        assert answer == _answer_from_frames(task, asked.question, shown), cell.id
        assert len(set(asked.options)) == len(asked.options)


@pytest.mark.parametrize("task", ["ordering", "ordering-d", "counting", "multi-key"])
def test_every_depth_row_moves_the_needles(multi_dataset, task):
    """V-RULER places these needles at linspace(0, frames - 1, k) whatever the depth; here depth moves them."""
    cells = multi_cells(task, 3, LENGTHS, DEPTHS, list(multi_dataset.needles.values()))
    for length in LENGTHS:
        for needle in multi_dataset.needles:
            slots = {c.depth: tuple(i.slot for i in c.insertions) for c in cells
                     if c.length == length and c.needle == needle}  # fmt: skip
            assert len(set(slots.values())) == len(DEPTHS), (length, needle, slots)
            firsts = [min(s) for _, s in sorted(slots.items())]
            assert firsts == sorted(firsts) and firsts[0] == 0 and max(slots[100]) == length


def test_distance_axis_is_the_gap_between_the_needles(multi_dataset):
    cells = multi_cells("distance", 3, LENGTHS, DEPTHS, list(multi_dataset.needles.values()))
    for c in cells:
        first, second = (i.slot for i in c.insertions)
        assert second - first == round(c.depth * c.length / 100)
        assert c.insertions[0].needle != c.insertions[1].needle


@pytest.mark.parametrize("task", list(MULTI_TASKS))
def test_answer_letters_are_balanced(multi_dataset, task):
    cells = multi_dataset.task_cells[task]
    letters = Counter(c.asked.answer for c in cells)
    assert max(letters.values()) - min(letters.values()) <= len(multi_dataset.needles)
    assert len(letters) == MULTI_TASKS[task].options


def test_counting_counts_only_frames_that_meet_the_find_clause(multi_dataset):
    cells = multi_dataset.task_cells["counting"]
    counts = Counter(int(c.asked.options[c.asked.answer]) for c in cells)
    assert 0 in counts and set(counts) <= set(range(6))
    for c in cells:
        assert len(c.insertions) == 6  # odd frames: always six, whatever the count
        kinds = Counter(i.kind for i in c.insertions)
        assert kinds["needle"] == int(c.asked.options[c.asked.answer])


def test_audit_is_at_chance_on_every_task(multi_dataset):
    rows = audit(multi_dataset, frames=False)
    assert {r.task for r in rows} == {"v-niah", "v-niah-d", *MULTI_TASKS}
    assert {"order:as-listed", "order:consensus", "count:middle", "multi-key:leaves-out-first",
            "distance:first-named"} <= {r.rule for r in rows}  # fmt: skip
    assert not [r for r in rows if r.beats_chance]


def test_multi_tasks_refuse_needles_without_keys(multi_dataset):
    from dataclasses import replace

    keyless = [replace(n, key=None) for n in multi_dataset.needles.values()]
    with pytest.raises(NiahError, match="key object is known"):
        multi_cells("ordering", 0, [16], [50], keyless)


def test_unknown_task_names_the_close_ones():
    with pytest.raises(NiahError, match="ordering"):
        resolve_config("demo", tasks="v-niah,orderin")


def test_a_recipe_can_name_tasks(tmp_path):
    recipe = tmp_path / "mine.json"
    recipe.write_text('{"include": "demo", "needles": 3, "tasks": "v-niah,distance"}')
    config = resolve_config(str(recipe))
    assert config.tasks == ["v-niah", "distance"]
    ds = Dataset(generate(tmp_path / "d", config))
    assert set(ds.task_cells) == {"distance"} and ds.manifest["axes"]["distance"] == "distance (% of length)"


def test_multi_key_options_are_every_set_that_swaps_one_value(multi_dataset):
    for cell in multi_dataset.task_cells["multi-key"]:
        needle = multi_dataset.needles[cell.needle]
        sets = [frozenset(o.split(", ")) for o in cell.asked.options]
        assert len(set(sets)) == 4 and all(len(s) == 3 and s <= set(needle.options) for s in sets)
        answer = sets[cell.asked.answer]
        assert all(len(answer - s) == 1 for k, s in enumerate(sets) if k != cell.asked.answer)
        assert all(i.needle == cell.needle and i.kind == "needle" for i in cell.insertions)


def test_ordering_d_lures_are_the_orders_a_look_alike_makes(multi_dataset):
    """Recomputed from the frames: move one needle to its look-alike's frame, read the order."""
    needles, seen = multi_dataset.needles, 0
    for cell in multi_dataset.task_cells["ordering-d"]:
        shown = _frame_keys(multi_dataset, needles, cell)
        named = _keys_named(cell.asked.question)
        refs = cell_sequence(cell)
        at = {k: i for i, (key, _) in enumerate(shown) if key in named for k in [key] if refs[i].kind == "needle"}
        looks = [(i, needles[refs[i].needle].key) for i in range(len(refs)) if refs[i].kind == "distractor"]
        assert all(shown[i][0] not in named for i, _ in looks)  # no look-alike meets any find clause
        confused = set()
        for i, owner in looks:
            moved = {**at, owner: i}  # sequence indices: the look-alike's frame in its needle's place
            confused.add(", ".join(sorted(named, key=lambda k: moved[k])))
        expected = {k for k, o in enumerate(cell.asked.options) if o in confused and k != cell.asked.answer}
        assert set(cell.asked.lures) == expected, cell.id
        seen += bool(expected)
    assert seen  # some cells offer a look-alike's order among their options


def test_inspect_draws_a_contact_sheet_of_a_multi_needle_cell(multi_dataset, tmp_path):
    from click.testing import CliRunner

    from niah.cli import main

    cell = multi_dataset.task_cells["ordering-d"][-1]
    res = CliRunner().invoke(main, ["inspect", str(multi_dataset.path), "--sheet", str(tmp_path / "s.png"),
                                    "--cell", cell.id])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s.png").stat().st_size > 0 and cell.id in res.output


def test_a_multi_needle_cells_sheet_says_its_own_question_not_its_anchors(multi_dataset):
    """The contact sheet's header of an ordering / distance / multi-key cell is the task's question
    and options (answer starred), over the frames the cell inserts; a retrieval cell's is its needle's."""
    from niah.data.inspect import cell_panel, cell_title

    for task in ("ordering-d", "distance", "multi-key"):
        cell = multi_dataset.task_cells[task][0]
        title = cell_title(multi_dataset, cell)
        assert title[0] == cell.asked.question != multi_dataset.needles[cell.needle].question
        assert f"{'ABCD'[cell.asked.answer]}. {cell.asked.options[cell.asked.answer]} *" in title[1]
        assert title[1].count("*") == 1
        panel = cell_panel(multi_dataset, cell, 900)
        assert panel.shape[1] >= 900 // 8 and panel.shape[0] > 40  # two title lines over the inserted frames
    retrieval = multi_dataset.cells[0]
    assert cell_title(multi_dataset, retrieval) == [multi_dataset.needles[retrieval.needle].question]
