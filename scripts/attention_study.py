"""Where the shipped tiny models attend at 1× and 4× their longest training length (docs/train.md).

Generates the test-seed dataset of docs/train.md's extrapolation study (39 colour needles, 12 and
48 frames, depths 0-100 step 25, look-alikes every 4 frames, seed 2026), runs tiny:@demo's three
variants on it with --attention-heads, draws `niah plot` (attention figures and attention.md), and
prints the paired differences of the needle's attention mass (mean over layers) between variants
on the same samples: bootstrap interval and sign-flip p over needles (niah.stats.paired_difference),
Holm-corrected over every comparison printed.

    python scripts/attention_study.py [--work DIR]     # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
from itertools import combinations
from pathlib import Path

from niah.stats import holm, paired_difference
from niah.sweep.attention import layer_mean, read_attention

VARIANTS = ["vanilla", "m-rope", "videorope"]


def niah(*args: str) -> None:
    subprocess.run(["niah", *args], check=True, stdout=subprocess.DEVNULL)


def _p(p: float) -> str:
    """A sign-flip p of 0 means none of the random flips reached the observed sum: below 1/2000."""
    return f"{p:.4f}" if p > 0 else "< 0.0005"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="attention-study")
    ap.add_argument("--needles", type=int, default=39, help="needles per cell (39: docs/train.md's study)")
    args = ap.parse_args(argv)
    work = Path(args.work)
    if not (work / "data" / "manifest.json").is_file():
        niah("generate", "--preset", "demo", "--families", "colour", "--needles-per-cell", str(args.needles),
             "--lengths", "12,48", "--depths", "0:100:25", "--distractor-period", "4", "--seed", "2026",
             "--out", str(work / "data"), "-q")  # fmt: skip
    niah("run", str(work / "data"), "--model", "tiny:@demo", "--variants", ",".join(VARIANTS), "--attention-heads",
         "--out", str(work / "run"), "-q")  # fmt: skip
    niah("plot", str(work / "run"), "--out", str(work / "figures"))
    results = [json.loads(x) for x in (work / "run" / "results.jsonl").read_text().splitlines()]
    attention = read_attention(work / "run")
    spec = {r["variant"].split(":")[0]: r["variant"] for r in results}
    rows = []
    for task in sorted({r["task"] for r in results}):
        for length in sorted({r["length"] for r in results}):
            mine = [r for r in results if r["task"] == task and r["length"] == length]
            cells = sorted({r["cell"]: r["needle"] for r in mine}.items())
            for a, b in combinations(VARIANTS, 2):
                mass = {v: [layer_mean(attention[f"{task}|{spec[v]}|{c}"], "needle") for c, _ in cells] for v in (a, b)}
                rows.append((task, length, f"{b} − {a}", paired_difference(mass[b], mass[a], [n for _, n in cells])))
    print("needle attention mass, paired differences (mean over layers; 95 % bootstrap interval over needles)")
    for (task, length, pair, d), adjusted in zip(rows, holm([d.p for *_, d in rows]), strict=True):
        print(f"{task:9} {length:>3} frames  {pair:<20} {d.difference:+.3f} [{d.low:+.3f}, {d.high:+.3f}]  "
              f"p {_p(d.p)}  Holm {_p(adjusted)}  ({d.n} samples, {d.clusters} needles)")
    print(f"figures and attention.md: {work / 'figures'}")


if __name__ == "__main__":
    main()
