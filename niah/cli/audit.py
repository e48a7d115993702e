"""`niah audit`: blind baselines (text only, option and key frequency, frame outliers) vs chance."""

from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm

from niah.data.audit import RULES, Row, table, verdict
from niah.data.audit import audit as run_audit
from niah.data.dataset import Dataset


def audit_with_bar(dataset: Dataset, quiet: bool, frames: bool = True) -> list[Row]:
    """The audit's rows, with a progress bar over the haystack frames it decodes unless `quiet`."""
    bar = None if quiet or not frames else tqdm(total=max(dataset.lengths, default=0), desc="audit", unit="frame")
    try:
        return run_audit(dataset, frames=frames, progress=lambda done, total: bar.update(done - bar.n) if bar else None)
    finally:
        if bar is not None:
            bar.close()


def _rules() -> str:
    return "Rules: " + "; ".join(f"{name}: {rule.description}" for name, rule in RULES.items()) + "."


@click.command(epilog=_rules())
@click.argument("dataset", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per task, length and rule (accuracy, chance, "
              "ci_low, ci_high, cells, needles, beats_chance); length 'all' pools the lengths.")  # fmt: skip
@click.option("--strict", is_flag=True, help="Exit 1 when any rule beats chance (Bonferroni over the table).")
@click.option("--all-lengths", is_flag=True, help="Print every length's rows, not only the pooled ones.")
@click.option("--no-frames", is_flag=True, help="Skip the frame-outlier rules (they decode the whole haystack).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def audit(dataset: str, as_json: bool, strict: bool, all_lengths: bool, no_frames: bool, quiet: bool) -> None:
    """Check that no rule blind to the find clause beats chance on DATASET.

    \b
    Each rule answers every (task, cell) without reading what the question names; its accuracy is
    shown with a 95 % interval (clustered by needle) next to its chance level, per task and length.
    Frequency rules are compared with reading a look-alike picked at random. Examples:
      niah audit data/demo
      niah audit data/longva --strict          # exit 1 if any rule beats chance
      niah audit data/mine --json > audit.jsonl
    """
    rows = audit_with_bar(Dataset(dataset), quiet or as_json, frames=not no_frames)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_json()))
    else:
        click.echo(table(rows, everything=all_lengths))
        click.echo(verdict(rows))
    if strict and any(r.beats_chance for r in rows):
        if as_json:
            click.echo(verdict(rows), err=True)
        sys.exit(1)
