"""`niah plot`: figures and tables from run dirs."""

from __future__ import annotations

import click

from niah.plot.report import plot_runs
from niah.tasks.metrics import METRICS

metric_option = click.option(
    "--metric",
    help="The metric to use, by name: " + "; ".join(f"{m.name}: {m.description}" for m in METRICS.values())
    + ". Default: the imported runs' metric, else the runs' primary one; runs that record different metrics are "
    "refused in one line naming the --metric to pass.",
)
"""--metric, shared by niah plot, niah report and niah compare."""


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for figures and tables.")
@click.option(
    "--format",
    "formats",
    default="png",
    show_default=True,
    help="Comma-separated: png for people, pdf and/or svg for papers (e.g. png,pdf).",
)
@metric_option
@click.option("--mark-wide", type=click.FloatRange(0, 1), default=None,
              help="Put a dot on every heatmap cell whose 95 % interval is wider than this (e.g. 0.5).")
@click.option("--diff", help="Draw the difference map of two variants, A,B (default: each variant minus the first).")
def plot(run_dirs: tuple[str, ...], out: str, formats: str, diff: str | None, metric: str | None,
         mark_wide: float | None) -> None:  # fmt: skip
    """Heatmaps, the variants × tasks grid, difference maps (cells the paired McNemar test,
    Holm-corrected, does not resolve drawn grey), score vs length and summary tables
    (summary.md/.csv/.tex, every score with its 95 % interval) from one or more RUN_DIRS of the
    same dataset (imported runs plot beside any; a folder of run dirs stands for the runs in it).

    \b
    Examples:
      niah plot runs/probe --out figures/
      niah plot runs/q2vl runs/probe --out figures/ --format png,pdf --diff videorope,m-rope
      niah plot runs/mine references/videorope --out figures/   # beside the VideoRoPE paper
    """
    pair = None
    if diff:
        parts = [p.strip() for p in diff.split(",")]
        if len(parts) != 2:
            raise click.BadParameter("write two variants: --diff videorope,m-rope")
        pair = (parts[0], parts[1])
    paths = plot_runs(run_dirs, out, [f.strip() for f in formats.split(",") if f.strip()], pair, metric, mark_wide)
    for path in paths:
        click.echo(path)
