"""scripts/order_lookalikes.py: an order task's accuracy split by whether the named needles look alike."""

from __future__ import annotations

import json

import pytest
from script_loader import load_script

from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.data.grid import Asked
from tests.data.test_multi import _keys_named
from tests.sweep.test_compare import write_run


@pytest.fixture(scope="module")
def ordering_dataset(tmp_path_factory) -> Dataset:
    config = resolve_config("demo", needles=12, lengths="16", depths="0,50,100", tasks="ordering")
    return Dataset(generate(tmp_path_factory.mktemp("order") / "ds", config))


def _named_keys_share(question: str) -> bool:
    """Whether the 'colour shape' phrases the question names share a word, read off its text."""
    keys = [key.split() for key in _keys_named(question)]
    return len({a for a, _ in keys}) < len(keys) or len({b for _, b in keys}) < len(keys)


def _one_pair_of_lookalikes_moved(right: str, given: str) -> bool:
    """Whether order `given` is `right` with exactly two items moved, which share a word."""
    moved = [(a, b) for a, b in zip(right.split(", "), given.split(", "), strict=True) if a != b]
    return len(moved) == 2 and bool(set(moved[0][0].split()) & set(moved[0][1].split()))


def test_errors_planted_on_look_alike_needles_land_in_that_column(ordering_dataset, tmp_path):
    cells = ordering_dataset.task_cells["ordering"]
    shared = {c.id: _named_keys_share(c.asked.question) for c in cells}
    assert 0 < sum(shared.values()) < len(cells)  # both kinds of item are in the fixture
    wrong = {c.id: next(k for k in range(len(c.asked.options)) if k != c.asked.answer) for c in cells if shared[c.id]}
    recs = [{"key": f"ordering|m-rope|{c.id}", "task": "ordering", "variant": "m-rope", "model": "tiny",
             "length": c.length, "depth": c.depth, "needle": c.needle, "cell": c.id, "status": "ok",
             "metric": "value_choice", "correct": not shared[c.id], "model_seed": 3,
             "prediction": "ABCD"[wrong.get(c.id, c.asked.answer)]} for c in cells]  # fmt: skip
    swaps = sum(_one_pair_of_lookalikes_moved(c.asked.options[c.asked.answer], c.asked.options[wrong[c.id]])
                for c in cells if c.id in wrong)  # fmt: skip
    run = write_run(tmp_path / "run", recs)
    table = load_script("order_lookalikes").lookalike_table(ordering_dataset, [str(run)])
    row = table.splitlines()[2].strip("| ").split(" | ")
    assert row[:3] == ["m-rope", "3", "16"]
    assert row[3].startswith("0.00 [") and row[3].endswith(f"({len(wrong)})")
    assert row[4].startswith("1.00 [") and row[4].endswith(f"({len(cells) - len(wrong)})")
    assert row[5] == f"{swaps} of {len(wrong)}"


@pytest.mark.parametrize(("letter", "swapped"), [
    ("B", True),  # red star ↔ purple star: the same shape
    ("C", True),  # red star ↔ red cross, first and last: the same colour
    ("D", False),  # all three moved
    ("A", False),  # the right order
    ("", False),  # no option's letter
])  # fmt: skip
def test_a_swap_counts_only_when_exactly_two_look_alikes_trade_places(letter, swapped):
    asked = Asked("?", ("red star, purple star, red cross", "purple star, red star, red cross",
                        "red cross, purple star, red star", "purple star, red cross, red star"), 0)  # fmt: skip
    assert load_script("order_lookalikes").swaps_look_alikes(asked, letter) is swapped


def test_two_needles_that_share_nothing_trading_places_is_no_look_alike_swap():
    asked = Asked("?", ("red star, blue cross, green diamond", "blue cross, red star, green diamond"), 0)
    assert load_script("order_lookalikes").swaps_look_alikes(asked, "B") is False


def test_needles_without_a_key_are_refused(ordering_dataset, tmp_path):
    needles = ordering_dataset.path / "needles" / "needles.jsonl"
    rows = [json.loads(line) | {"key": None} for line in needles.read_text().splitlines()]
    copy = tmp_path / "ds"
    copy.mkdir()
    for f in ordering_dataset.path.iterdir():  # the dataset as a user's needles would leave it: no keys
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    (copy / "needles").mkdir()
    (copy / "needles" / "needles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SystemExit, match="no known key"):
        load_script("order_lookalikes").split_of_cells(Dataset(copy), "ordering")


def test_a_task_the_dataset_lacks_is_named_with_the_tasks_it_has(ordering_dataset):
    with pytest.raises(SystemExit, match=r"has no counting cells \(its tasks: ordering\)"):
        load_script("order_lookalikes").split_of_cells(ordering_dataset, "counting")
