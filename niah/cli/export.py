"""`niah export`: a dataset dir as a Hub-ready dataset (Parquet + card) with lmms-eval tasks."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from niah.cli.audit import audit_with_bar
from niah.data.audit import verdict
from niah.data.dataset import Dataset


@click.command()
@click.argument("dataset", type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Export dir to create.")
@click.option("--materialize", is_flag=True,
              help="Also write one MP4 per row (what harnesses that read video files want; the size is estimated "
              "first). Without it, rows point into the shared haystack and niah_frames.py composes them.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print the rows and sizes it would write and the free space; write none.")
@click.option("--force", is_flag=True, help="Replace an earlier export at --out (anything else there is refused).")
@click.option("--no-audit", is_flag=True, help="Do not run the audit for the card (it decodes the haystack once).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def export(dataset: str, out: str, materialize: bool, dry_run: bool, force: bool, no_audit: bool, quiet: bool) -> None:
    """Export DATASET for the Hugging Face Hub and lmms-eval.

    \b
    Writes OUT/data/<task>/L<length>.parquet (one row per task × cell: question, options,
    answer letter, lure letters, metric, where its frames are), media/ (the shared haystack and
    images), niah_frames.py (composes a row's frames; no niah needed), README.md (the dataset card:
    configs per task and per task × length, license, how it was built, the audit's verdict),
    lmms_eval_tasks/ (one task per niah task, scored by niah's generate rule) and SHA256SUMS.

    \b
    Examples:
      niah export data/longva --out export/longva --dry-run
      niah export data/longva --out export/longva
      python -c "import datasets; print(datasets.load_dataset('export/longva', 'v-niah', split='test'))"
      lmms-eval --model qwen2_5_vl --tasks niah_v_niah --include_path export/longva/lmms_eval_tasks --log_samples \\
          --output_path logs/
      huggingface-cli upload you/niah-longva export/longva --repo-type dataset
    """
    from niah.export.hub import describe_plan, plan_export
    from niah.export.hub import export as write_export

    ds = Dataset(dataset)
    if dry_run:
        click.echo(describe_plan(plan_export(ds, materialize), Path(out)))
        return
    line = None if no_audit else verdict(audit_with_bar(ds, quiet))
    bar = None if quiet or not materialize else tqdm(desc="materialize", unit="row")

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        path = write_export(dataset, out, materialize=materialize, force=force, audit_line=line, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"exported {dataset} → {path}  (datasets.load_dataset('{path}', NAME); lmms-eval --include_path "
               f"{path / 'lmms_eval_tasks'})")  # fmt: skip
