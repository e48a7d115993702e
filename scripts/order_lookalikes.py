"""A multi-needle task's accuracy split by whether the needles its question names look alike (two
of them share a colour or a shape: "purple star" and "purple diamond"), per variant and model seed:
where an order task's errors are (docs/train.md).

    python scripts/order_lookalikes.py DATA RUN [RUN ...]                  # ordering
    python scripts/order_lookalikes.py DATA RUN --task distance

DATA is the dataset the runs scored; each cell holds the accuracy, its 95 % interval clustered by
needle (niah.stats.mean_interval) and the number of samples. Needles with no known key (a user's
own needle files) cannot be split: the script says so and exits.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from niah.data.dataset import Dataset  # noqa: E402
from niah.plot.results import load_runs  # noqa: E402
from niah.stats import mean_interval  # noqa: E402

SPLITS = ("look alike", "all differ")


def look_alike(keys: list[str]) -> bool:
    """Whether two of the needles' keys ("colour shape") share a colour or a shape."""
    colours, shapes = zip(*(key.split(" ", 1) for key in keys), strict=True)
    return len(set(colours)) < len(keys) or len(set(shapes)) < len(keys)


def split_of_cells(dataset: Dataset, task: str) -> dict[str, str]:
    """Cell id → its split (SPLITS), for every cell of `task` in `dataset`."""
    cells = dataset.task_cells.get(task)
    if not cells:
        raise SystemExit(f"{dataset.path} has no {task} cells (its tasks: {', '.join(dataset.tasks)})")
    splits = {}
    for cell in cells:
        keys = [dataset.needles[i.needle].key for i in cell.insertions if i.kind == "needle"]
        if None in keys:
            raise SystemExit(f"cell {cell.id}'s needles have no known key (colour and shape): nothing to split by")
        splits[cell.id] = SPLITS[0] if look_alike(keys) else SPLITS[1]
    return splits


def lookalike_table(dataset: Dataset, runs: list[str], task: str = "ordering") -> str:
    """The Markdown table: a row per variant × model seed × haystack length (frames), a column per split."""
    splits = split_of_cells(dataset, task)
    records, order = load_runs(runs)
    groups: dict[tuple[str, object, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r["task"] == task:
            groups[(r["variant"], r.get("model_seed"), r["length"])][splits[r["cell"]]].append(r)
    if not groups:
        raise SystemExit(f"the runs hold no {task} samples")
    head = f"| variant | model seed | frames | {task}: needles {' | needles '.join(SPLITS)} |"
    lines = [head, "|---|---|---|---|---|"]
    for variant, seed, length in sorted(groups, key=lambda k: (order.index(k[0]), str(k[1]), k[2])):
        cells = []
        for split in SPLITS:
            rows = groups[(variant, seed, length)][split]
            if not rows:
                cells.append("–")
                continue
            e = mean_interval([float(r["correct"]) for r in rows], [r["needle"] for r in rows])
            cells.append(f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}] ({e.n})")
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
