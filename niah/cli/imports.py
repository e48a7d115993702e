"""`niah import`: published results (LongVA's, VideoRoPE's) or lmms-eval's samples as a run dir."""

from __future__ import annotations

import click

from niah.sweep.imported import ALIASES, READERS, import_results

LMMS = "lmms-eval"


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted([*READERS, *ALIASES, LMMS])))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Run dir to write (replaces an earlier import only)."
)
@click.option(
    "--model", help="Model name to show in plots and tables, e.g. 'Qwen2-VL-7B (VideoRoPE paper)' (lmms-eval: default "
    "the model its results file names).",
)
@click.option("--variant", required=True, help="The niah RoPE variant the results were made with (see niah rope list).")
@click.option(
    "--task", help="The niah task a published file is for: v-niah (default) or v-niah-d. Not for lmms-eval: its "
    "samples name their own.",
)  # fmt: skip
@click.option("--source", help="Where the file comes from (repository, commit, path), kept in run.json.")
def import_(fmt: str, files: tuple[str, ...], out: str, model: str | None, variant: str, task: str | None,
            source: str | None) -> None:  # fmt: skip
    """Turn results FILES made elsewhere into a run dir that niah plot draws beside your own runs.

    \b
    FORMAT longva (alias videorope): one all_accuracies.json, a JSON list of
    {"Num. Frame": frames, "Frame Depth": percent, "Score": 0-1}, as LongVA's and VideoRoPE's
    V-NIAH scripts write it. The run holds cells (no per-sample records) and is marked imported.

    \b
    FORMAT lmms-eval: the *_samples_niah_*.jsonl files `lmms-eval --log_samples` writes for the
    tasks of a `niah export`; each sample is scored again by niah's generate rule and becomes a
    per-sample record (plot, report and compare treat it as any run).

    \b
    Examples:
      niah import videorope all_accuracies.json --model Qwen2-VL-7B --variant m-rope \\
          --task v-niah --out runs/paper-m-rope
      niah import lmms-eval logs/qwen2_5_vl/*_samples_niah_*.jsonl --variant m-rope --out runs/lmms-qwen
      niah plot runs/mine runs/paper-m-rope --out figures/
    """
    if fmt == LMMS:
        from niah.sweep.lmms import import_lmms

        if task:
            raise click.UsageError("lmms-eval samples name their own task: drop --task")
        root = import_lmms(files, out, model, variant, source)
    else:
        if len(files) != 1:
            raise click.UsageError(f"format {fmt} reads one file, got {len(files)}")
        if not model:
            raise click.UsageError("give --model NAME: a published file does not say which model it is")
        root = import_results(fmt, files[0], out, model, variant, task or "v-niah", source)
    click.echo(f"imported {', '.join(files)} → {root}")
