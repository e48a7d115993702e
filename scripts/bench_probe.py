"""Benchmark: probe samples/s on the demo grid and on the longva grid (448x252, up to 3000 frames).

Usage: python scripts/bench_probe.py [--workdir DIR] [--longva-lengths 200,1600,3000]

Datasets are generated into --workdir (kept, so reruns skip generation). The longva grid is run on
a subset of its lengths (all depths and needles) by default; pass 200:3000:200 for all of it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from niah.backends.probe import ProbeBackend
from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.data.grid import parse_int_list
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import dataset_tasks

VARIANTS = ["vanilla", "m-rope", "videorope"]


def bench(ds: Dataset, lengths: list[int] | None) -> tuple[int, float, int]:
    probe = ProbeBackend()
    plan = make_plan(ds, dataset_tasks(ds), [resolve_variant(v) for v in VARIANTS], lengths=lengths)
    start = time.perf_counter()
    for _ in probe.run(probe.order(plan), ds):
        pass
    seconds = time.perf_counter() - start
    tokens = sum(probe.estimate_tokens(ds, s) for s in plan)
    return len(plan), seconds, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "niah-bench"))
    ap.add_argument("--longva-lengths", default="200,1600,3000")
    args = ap.parse_args()
    work = Path(args.workdir)
    for preset, lengths in (("demo", None), ("longva", parse_int_list(args.longva_lengths, "lengths"))):
        t = time.perf_counter()
        ds = Dataset(generate(work / preset, resolve_config(preset)))
        made = time.perf_counter() - t
        n, seconds, tokens = bench(ds, lengths)
        print(
            f"{preset:7s} {n:5d} samples ({', '.join(VARIANTS)} × both tasks"
            f"{', lengths ' + ','.join(map(str, lengths)) if lengths else ''}) in {seconds:7.1f} s = "
            f"{n / seconds:7.1f} samples/s, {tokens / seconds / 1e6:5.2f} M tokens/s (dataset {made:.0f} s)"
        )


if __name__ == "__main__":
    main()
