"""`niah demo`: the whole loop in one command."""

from __future__ import annotations

import time

import click

from niah.cli.run import hf_options
from niah.demo import DEMO_MODEL, run_demo
from niah.sweep.summary import accuracy_table


@click.command()
@click.option(
    "--out",
    default="niah-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for data/, run/ and figures/ (reused when rerun).",
)
@click.option("--model", default=DEMO_MODEL, show_default=True,
              help="tiny:@demo (tiny models shipped with niah, one per variant, trained on 4-12 frames), probe (the "
              "CPU attention probe, no weights) or hf:ID_OR_PATH.")  # fmt: skip
@click.option("--variants", default=None,
              help="Comma-separated RoPE variants (default: those the tiny models were trained with; every "
              "registered one for the probe and hf models).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@hf_options
def demo(out: str, model: str, variants: str | None, quiet: bool, **hf) -> None:
    """Generate the demo dataset, run MODEL over the RoPE variants on V-NIAH and V-NIAH-D, plot.

    On 2 CPU cores this takes well under a minute; rerunning reuses what exists. The tiny models
    see colour needles only: the demo's position needles are skipped, and said so.

    \b
    Examples:
      niah demo                                   # shipped tiny models, every variant, into niah-demo/
      niah demo --model probe --out probe-demo    # the training-free attention probe
      niah demo --out /tmp/demo --variants vanilla,m-rope,videorope
      niah demo --model hf:Qwen/Qwen2-VL-2B-Instruct --device cuda
    """
    from niah.cli.run import _hf_options, split_variants

    start = time.perf_counter()
    result = run_demo(out, model, split_variants(variants) if variants else None, quiet=quiet, echo=click.echo,
                      **_hf_options(model, hf))  # fmt: skip
    click.echo("")
    click.echo(accuracy_table(result["summary"]))
    figures = result["figures"]
    click.echo("")
    for path in figures:
        if path.name.startswith(("grid_", "accuracy_vs_length_")) or path.name == "summary.md":
            click.echo(f"  {path}")
    click.echo(f"  ... and {len(figures) - 3} more in {out}/figures  ({time.perf_counter() - start:.0f} s)")
