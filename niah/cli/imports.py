"""`niah import`: published results (LongVA's, VideoRoPE's) as a run dir for `niah plot`."""

from __future__ import annotations

import click

from niah.sweep.imported import ALIASES, READERS, import_results


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted([*READERS, *ALIASES])))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Run dir to write (replaces an earlier import only)."
)
@click.option(
    "--model", required=True, help="Model name to show in plots and tables, e.g. 'Qwen2-VL-7B (VideoRoPE paper)'."
)
@click.option("--variant", required=True, help="The niah RoPE variant the results were made with (see niah rope list).")
@click.option(
    "--task", default="v-niah", show_default=True, help="The niah task the results are for: v-niah or v-niah-d."
)
@click.option("--source", help="Where the file comes from (repository, commit, path), kept in run.json.")
def import_(fmt: str, file: str, out: str, model: str, variant: str, task: str, source: str | None) -> None:
    """Turn a published accuracy FILE into a run dir that niah plot draws beside your own runs.

    \b
    FORMAT longva (alias videorope): all_accuracies.json, a JSON list of
    {"Num. Frame": frames, "Frame Depth": percent, "Score": 0-1}, as LongVA's and VideoRoPE's
    V-NIAH scripts write it. The run holds cells (no per-sample records) and is marked imported.

    \b
    Example (the VideoRoPE paper's M-RoPE heatmap):
      niah import videorope all_accuracies.json --model Qwen2-VL-7B --variant m-rope \\
          --task v-niah --out runs/paper-m-rope
      niah plot runs/mine runs/paper-m-rope --out figures/
    """
    root = import_results(fmt, file, out, model, variant, task, source)
    click.echo(f"imported {file} → {root}")
