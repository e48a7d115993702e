"""`niah compare`: paired differences of two variants, models or runs on the same samples."""

from __future__ import annotations

import json

import click

from niah.cli.plot import metric_option


@click.command()
@click.argument("run_a", type=click.Path())
@click.argument("run_b", required=False, type=click.Path())
@click.argument("more", nargs=-1, type=click.Path())
@click.option("--a", "variant_a", help="The variant of RUN_A to compare (a spec or a name: videorope).")
@click.option("--b", "variant_b", help="The variant of RUN_B (or of RUN_A when RUN_B is not given).")
@click.option("--over-seeds", is_flag=True,
              help="The runs are one per training seed of the same designs on one dataset: --a − --b within "
                   "each run, combined over the seeds (the wider of Student's t over the seeds and the needle "
                   "bootstrap).")  # fmt: skip
@metric_option
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON objects (overall first, then per cell): difference, ci_low, ci_high, p, ...")
def compare(run_a: str, run_b: str | None, more: tuple[str, ...], variant_a: str | None, variant_b: str | None,
            over_seeds: bool, metric: str | None, as_json: bool) -> None:  # fmt: skip
    """A − B on the samples the two sides share, with a 95 % paired interval and p-value: overall per
    task (bootstrap and sign-flip test over needles) and per heatmap cell (McNemar, Holm-corrected
    across the table). Two runs of the same variants compare variant by variant (two models, two
    seeds); --a and --b pick one variant of each side, or two variants of one run. With
    --over-seeds, each run is one training seed's models and the difference is the designs': it
    counts how much the seeds disagree (three seeds: t with 2 degrees of freedom, so wide).

    \b
    Examples:
      niah compare runs/q2vl --a videorope --b m-rope          # two variants of one run
      niah compare runs/seed0 runs/seed1                       # two runs, variant by variant
      niah compare runs/q2vl runs/q25vl --a m-rope --b m-rope-time --json
      niah compare runs/s0 runs/s1 runs/s2 --over-seeds --a m-rope --b vanilla
    """
    from niah.plot.results import choose_metric, load_runs
    from niah.sweep.compare import Side, compare_over_seeds, resolve_variant_name
    from niah.sweep.compare import compare as paired

    if over_seeds or more:
        runs = [run_a, *([run_b] if run_b else []), *more]
        if not (over_seeds and variant_a and variant_b):
            raise click.UsageError("more than two run dirs compare over seeds: add --over-seeds --a VARIANT "
                                   "--b VARIANT")  # fmt: skip
        records = [load_runs([r])[0] for r in runs]
        va = resolve_variant_name(records[0], variant_a, run_a)
        vb = resolve_variant_name(records[0], variant_b, run_a)
        chosen = choose_metric([r for rs in records for r in rs], metric)
        comparisons = compare_over_seeds(records, va, vb, chosen)
        label = f"{len(runs)} seed runs"
        _show(comparisons, f"{label} ({va})", f"{label} ({vb})", chosen, as_json)
        return
    if run_b is None and not (variant_a and variant_b):
        raise click.UsageError("give two run dirs, or one run dir with --a VARIANT --b VARIANT")
    records_a, _ = load_runs([run_a])
    records_b = records_a if run_b is None else load_runs([run_b])[0]
    label_b = run_b or run_a
    va = resolve_variant_name(records_a, variant_a, run_a)
    vb = resolve_variant_name(records_b, variant_b or (variant_a if run_b else None), label_b)
    chosen = choose_metric(records_a + records_b, metric)
    a = Side(f"{run_a}" + (f" ({va})" if va else ""), records_a, va)
    b = Side(f"{label_b}" + (f" ({vb})" if vb else ""), records_b, vb if va else None)
    _show(paired(a, b, chosen), a.label, b.label, chosen, as_json)


def _show(comparisons: list, a: str, b: str, metric: str, as_json: bool) -> None:
    """Print the comparisons as JSON rows (overall first) or as report text."""
    from niah.sweep.compare import report

    if as_json:
        rows = [row for c in comparisons for row in c.as_json(a, b)]
        click.echo(json.dumps(sorted(rows, key=lambda r: r["scope"] != "overall"), indent=1))
    else:
        click.echo(report(comparisons, a, b, metric))
