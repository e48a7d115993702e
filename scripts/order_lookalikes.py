"""A multi-needle task's accuracy split by whether the needles its question names look alike (two
of them share a colour or a shape: "purple star" and "purple diamond"), per variant and model seed:
where an order task's errors are (docs/train.md).

    python scripts/order_lookalikes.py DATA RUN [RUN ...]                  # ordering
    python scripts/order_lookalikes.py DATA RUN --task distance

DATA is the dataset the runs scored; each cell holds the accuracy, its 95 % interval clustered by
needle (niah.stats.mean_interval) and the number of samples. For an order task a last column counts
the wrong answers that are the right order with two look-alike needles exchanged (a model that
picked a wrong option at random would pick that one about 1 time in 5 to 3 in 5, as one to three
of the five wrong orders are such swaps). Needles with no known key (a user's own needle files)
cannot be split: the script says so and exits.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from niah.data.dataset import Dataset  # noqa: E402
from niah.data.grid import Asked  # noqa: E402
from niah.data.needles import LETTERS  # noqa: E402
from niah.plot.results import load_runs  # noqa: E402
from niah.stats import mean_interval  # noqa: E402

SPLITS = ("look alike", "all differ")


def look_alike(keys: list[str]) -> bool:
    """Whether two of the needles' keys ("colour shape") share a colour or a shape."""
    colours, shapes = zip(*(key.split(" ", 1) for key in keys), strict=True)
    return len(set(colours)) < len(keys) or len(set(shapes)) < len(keys)


def swaps_look_alikes(asked: Asked, prediction: str) -> bool:
    """Whether an order answered `prediction` (a letter) is the right one with two needles that
    look alike exchanged; False for the right order or an answer that is no option's letter."""
    if prediction not in LETTERS[: len(asked.options)]:
        return False
    right = asked.options[asked.answer].split(", ")
    given = asked.options[LETTERS.index(prediction)].split(", ")
    moved = [k for k, (a, b) in enumerate(zip(right, given, strict=True)) if a != b]
    return len(moved) == 2 and look_alike([right[k] for k in moved])


def split_of_cells(dataset: Dataset, task: str) -> dict[str, str]:
    """Cell id → its split (SPLITS), for every cell of `task` in `dataset`."""
    splits = {}
    for cell in task_cells(dataset, task).values():
        keys = [dataset.needles[i.needle].key for i in cell.insertions if i.kind == "needle"]
        if None in keys:
            raise SystemExit(f"cell {cell.id}'s needles have no known key (colour and shape): nothing to split by")
        splits[cell.id] = SPLITS[0] if look_alike(keys) else SPLITS[1]
    return splits


def task_cells(dataset: Dataset, task: str) -> dict:
    """Cell id → cell, for every cell of `task` in `dataset`."""
    if not dataset.task_cells.get(task):
        raise SystemExit(f"{dataset.path} has no {task} cells (its tasks: {', '.join(dataset.tasks)})")
    return {cell.id: cell for cell in dataset.task_cells[task]}


def lookalike_table(dataset: Dataset, runs: list[str], task: str = "ordering") -> str:
    """The Markdown table: a row per variant × model seed × haystack length (frames), a column per
    split and, for an order task, how many wrong answers exchange two look-alike needles."""
    splits = split_of_cells(dataset, task)
    cells_by_id = task_cells(dataset, task)
    orders = task.startswith("ordering")
    records, order = load_runs(runs)
    groups: dict[tuple[str, object, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r["task"] == task:
            groups[(r["variant"], r.get("model_seed"), r["length"])][splits[r["cell"]]].append(r)
    if not groups:
        raise SystemExit(f"the runs hold no {task} samples")
    head = f"| variant | model seed | frames | {task}: needles {' | needles '.join(SPLITS)} |"
    head += " wrong: two look-alikes swapped |" if orders else ""
    lines = [head, "|---" * (5 + orders) + "|"]
    for variant, seed, length in sorted(groups, key=lambda k: (order.index(k[0]), str(k[1]), k[2])):
        cells = []
        for split in SPLITS:
            rows = groups[(variant, seed, length)][split]
            if not rows:
                cells.append("–")
                continue
            e = mean_interval([float(r["correct"]) for r in rows], [r["needle"] for r in rows])
            cells.append(f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}] ({e.n})")
        if orders:
            wrong = [r for rows in groups[(variant, seed, length)].values() for r in rows if not r["correct"]]
            swapped = sum(swaps_look_alikes(cells_by_id[r["cell"]].asked, r.get("prediction") or "") for r in wrong)
            cells.append(f"{swapped} of {len(wrong)}")
        lines.append(f"| {variant} | {'–' if seed is None else seed} | {length} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="the dataset the runs scored")
    parser.add_argument("runs", nargs="+", help="run dirs of that dataset")
    parser.add_argument("--task", default="ordering", help="a multi-needle task (default ordering)")
    args = parser.parse_args()
    print(lookalike_table(Dataset(args.data), args.runs, args.task))


if __name__ == "__main__":
    main()
