"""The paired differences of a multi-seed study as one Markdown table (docs/train.md's), from the
runs `scripts/train_all.sh` writes: WORK/runs/L<frames>/s<seed>, one run per length and seed.

    python scripts/seed_table.py train-all                                  # every variant − vanilla
    python scripts/seed_table.py train-all --pairs m-rope:vanilla,videorope:m-rope

Each cell: A − B over the seeds (`niah compare RUNS --over-seeds`: within each seed's run on the
same samples, combined by the wider of Student's t over the seeds and the needle bootstrap), its
95 % interval and p, and the p Holm-corrected over every comparison of the table; **bold** where
the corrected p is below 0.05.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from niah.plot.results import choose_metric, load_runs  # noqa: E402
from niah.stats import holm  # noqa: E402
from niah.sweep.compare import compare_over_seeds, resolve_variant_name  # noqa: E402


def seed_table(work: Path, pairs: list[tuple[str, str]]) -> str:
    """The Markdown table: a row per pair, a column per task × length (lengths ascending)."""
    lengths = sorted((int(d.name[1:]), d) for d in (work / "runs").glob("L*") if d.name[1:].isdigit())
    if not lengths:
        raise SystemExit(f"{work}/runs holds no L<frames> run folders: run scripts/train_all.sh first")
    cells: dict[tuple[int, int, str], object] = {}
    tasks: list[str] = []
    for length, folder in lengths:  # each length's seed runs read once, for every pair
        records = [load_runs([str(r)])[0] for r in sorted(folder.glob("s*"))]
        metric = choose_metric([r for rs in records for r in rs], None)
        for row, (a, b) in enumerate(pairs):
            va, vb = (resolve_variant_name(records[0], v, str(folder)) for v in (a, b))
            for c in compare_over_seeds(records, va, vb, metric):
                cells[(row, length, c.task)] = c.overall
                tasks += [c.task] if c.task not in tasks else []
    keys = list(cells)
    corrected = dict(zip(keys, holm([cells[k].p for k in keys]), strict=True))
    columns = [(task, length) for task in tasks for length, _ in lengths]
    seeds = next(iter(cells.values())).seeds
    plural = "s" if seeds > 1 else ""
    head = (f"| pair ({seeds} seed{plural}) | " + " | ".join(f"{task} {length}" for task, length in columns)
            + " |\n|---|" + "---|" * len(columns))  # fmt: skip
    lines = [head]
    for row, (a, b) in enumerate(pairs):
        out = []
        for task, length in columns:
            d, q = cells[(row, length, task)], corrected[(row, length, task)]
            text = f"{signed(d.difference)} [{signed(d.low)}, {signed(d.high)}], p {d.p:.2g}, Holm {q:.2g}"
            out.append(f"**{text}**" if q < 0.05 else text)
        lines.append(f"| {a} − {b} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def signed(x: float) -> str:
    """+0.12 or −0.12 (a minus sign, as docs/train.md's tables write it)."""
    return f"{x:+.2f}".replace("-", "−")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="the WORK folder of scripts/train_all.sh")
    parser.add_argument("--pairs", help="A:B,... (default: every variant of the runs but vanilla, − vanilla)")
    args = parser.parse_args()
    if args.pairs:
        pairs = [tuple(p.split(":", 1)) for p in args.pairs.split(",")]
    else:
        first = next((args.work / "runs").glob("L*/s*"))
        variants = sorted({r["variant"] for r in load_runs([str(first)])[0]})
        pairs = [(v.split(":")[0], "vanilla") for v in variants if v != "vanilla"]
    print(seed_table(args.work, pairs))


if __name__ == "__main__":
    main()
