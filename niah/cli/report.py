"""`niah report`: a self-contained HTML report of run dirs, with a drill-down to every sample."""

from __future__ import annotations

import click

from niah.cli.plot import metric_option
from niah.plot.html import build_report


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .html file to write.")
@metric_option
def report(run_dirs: tuple[str, ...], out: str, metric: str | None) -> None:
    """One HTML file (opens from disk, offline) with the summary table and a heatmap per model,
    variant and task; click a cell to see its samples: question, options, answer, prediction,
    per-option scores, lured or not, thumbnails of the needle, its distractors and the frames
    around it, and a strip of where they sit in the haystack.

    \b
    Examples:
      niah report runs/probe --out report.html
      niah report runs/q2vl references/videorope --out compare.html
    """
    path = build_report(run_dirs, out, metric)
    click.echo(f"{path} ({path.stat().st_size / 2**20:.1f} MB)")
