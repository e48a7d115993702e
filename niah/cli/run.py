"""`niah run`: sweep a model over a dataset's cells × RoPE variants × tasks into a run dir."""

from __future__ import annotations

import sys

import click

from niah.cli import PLUGINS
from niah.data.grid import parse_int_list
from niah.errors import NiahError
from niah.model_families import MODEL_FAMILIES
from niah.rope import VARIANTS
from niah.rope.options import split_top_level
from niah.sweep import engine
from niah.sweep.engine import DEFAULT_TASKS, DEFAULT_VARIANTS, RunConfig, RunInterrupted, run_sweep
from niah.sweep.launch import run_workers
from niah.sweep.plan import Shard
from niah.sweep.summary import accuracy_table
from niah.tasks import TASKS


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def hf_options(f):
    """The transformers backend's options (refused with a probe or tiny model, where they would do nothing)."""
    options = [
        click.option("--dtype", default="auto", show_default=True, help="hf: bfloat16, float16, float32 or auto."),
        click.option("--device", default=None, help="hf: cuda, cuda:1, cpu (default: cuda if available)."),
        click.option("--attn-implementation", default="sdpa", show_default=True,
                     help="hf: sdpa (prefill chunks run lower-right causal SDPA, no mask: the flash kernel on "
                          "CUDA), sdpa-stock (transformers' masked path), flash_attention_2 (if installed), eager."),
        click.option("--device-map", default=None, help="hf: 'auto' spreads a model too large for one GPU."),
        click.option("--random-weights", is_flag=True, help="hf: the config's architecture with random weights."),
        click.option("--chunk-tokens", type=click.IntRange(min=1), default=None,
                     help="hf: prefill chunk size in tokens (default 8192)."),
        click.option("--max-pixels", type=click.IntRange(min=28 * 28), default=None,
                     help="hf: resize frames to at most this many pixels."),
        click.option("--no-prefix-reuse", is_flag=True, help="hf: recompute the whole prompt for every sample."),
        click.option("--video-layout", type=click.Choice(["timestamped", "contiguous"]), default=None,
                     help="hf: timestamped (the native prompt of Qwen3-VL, Qwen3.5, GLM-4.xV: each frame its own "
                     "run with a timestamp, so temporal options such as videorope's delta cannot act and are "
                     "refused) or contiguous (one video run, as Qwen2-VL: every temporal rule acts). Default: the "
                     "family's native form."),
        click.option("--cache-dir", default=None,
                     help="hf: where vision embeddings are cached (default: DATASET/.niah-vision-cache, shared by "
                     "every "
                     "run of the dataset with the same model)."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


@click.command()
@click.argument("dataset", type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run dir: created, resumed, or grown (more variants, tasks, lengths or depths compute only what "
              "is new; the dataset dir may move).")  # fmt: skip
@click.option(
    "--model",
    help="Required. hf:ID_OR_PATH (e.g. hf:Qwen/Qwen2-VL-7B-Instruct), a checkpoint of "
    f"{', '.join(f.title for f in MODEL_FAMILIES.values())}: metrics exact_match (the papers'), mc and generate; "
    "tiny:DIR[,seed=K] (models niah train wrote to DIR; tiny:@demo: the ones shipped with niah): metric "
    "value_choice; or probe[:heads=4,semantic=0.75,...], the training-free attention probe (CPU, no weights; not a "
    "model): metric probe.",
)
@click.option(
    "--variants",
    default=",".join(DEFAULT_VARIANTS),
    show_default=True,
    help=f"RoPE variants with options, comma-separated ({', '.join(VARIANTS)}); "
    "a variant's options follow it: vanilla,videorope:delta=1.5,alloc=high,m-rope.",
)
@click.option("--tasks", default=",".join(DEFAULT_TASKS), show_default=True,
              help="; ".join(f"{t.name}: {t.description}" for t in TASKS.values()) + ".")
@click.option("--lengths", help="Subset of the dataset's lengths (frames), e.g. 16,32 or 200:1000:200.")
@click.option("--depths", help="Subset of the dataset's depths (percent).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N cells (per variant and task).")
@click.option("--shard", help="Run shard I of N (I/N); each shard writes its own results file, merged at the end.")
@click.option(
    "--gpus",
    type=click.IntRange(min=1),
    help="Run N workers, one per GPU, each a whole model on its own "
    "shard (logs in OUT/logs); the probe runs N CPU processes. Same as torchrun --nproc-per-node N.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the probe's feature map and of hf random weights (--random-weights).")  # fmt: skip
@click.option("--dry-run", is_flag=True,
              help="Print the plan (samples, tokens, what is done, the smallest difference it resolves) and exit.")
@click.option("--resolve", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="With --dry-run: how many needles resolve this paired difference (e.g. 0.05).")
@click.option("--force", is_flag=True,
              help="Reuse a run dir made with another model, backend options, seed or dataset, discarding its "
              "results.")  # fmt: skip
@click.option("--attention", is_flag=True,
              help="hf and tiny models: record, per sample and layer, the attention of the prompt's last position on "
              "the needle, the look-alikes, the rest of the haystack and the text (OUT/attention.jsonl; the answers "
              "do not change). niah plot then draws where attention went and why answers failed. Samples done "
              "without it run again.")  # fmt: skip
@click.option("--attention-heads", is_flag=True,
              help="As --attention, and per head too (retrieval heads; larger files).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or table.")
@hf_options
@click.pass_context
def run(ctx, dataset, out, model, variants, tasks, lengths, depths, limit, shard, gpus, seed, dry_run, resolve, force,
        attention, attention_heads, quiet, **hf) -> None:  # fmt: skip
    """Sweep MODEL over DATASET's cells × RoPE variants × tasks; one JSON line per sample in OUT.

    \b
    Examples:
      niah run data/demo --model probe --out runs/demo-probe
      niah run data/longva --model hf:Qwen/Qwen2-VL-7B-Instruct --variants m-rope,videorope --out runs/q2
      niah run data/longva --model hf:Qwen/Qwen2-VL-7B-Instruct --gpus 8 --out runs/q2
    Rerunning the same command resumes: finished samples are skipped, failed ones retried.
    """
    if resolve is not None and not dry_run:
        raise NiahError("--resolve plans a grid: add --dry-run")
    if not model:
        raise NiahError("give --model: hf:ID_OR_PATH for a video LLM (e.g. hf:Qwen/Qwen2-VL-7B-Instruct), "
                        "tiny:@demo for the shipped tiny models, or probe for the attention probe (not a model)")
    multi = gpus is not None and gpus > 1
    if multi and (shard or hf.get("device") or hf.get("device_map")):
        raise NiahError("--gpus N runs shards 1/N..N/N, one per GPU, itself: drop --shard, --device and --device-map")
    config = RunConfig(
        dataset=dataset, model=model, variants=split_variants(variants), tasks=_csv(tasks),
        lengths=parse_int_list(lengths, "lengths") if lengths else None,
        depths=parse_int_list(depths, "depths") if depths else None,
        limit=limit, seed=seed, backend_options=_hf_options(model, hf),
        attention="heads" if attention_heads else "layers" if attention else None,
    )  # fmt: skip
    if dry_run:
        click.echo(engine.dry_run(config, out, Shard.parse(shard) if shard else None, force, resolve))
        return
    try:
        if multi:
            summary = run_workers(config, out, gpus, [a for p in PLUGINS for a in ("--plugin", p)],
                                  _worker_args(ctx), force=force, quiet=quiet)  # fmt: skip
        else:
            # no --shard: the shard of this torchrun rank (RANK, WORLD_SIZE), or the whole plan
            summary = run_sweep(config, out, Shard.parse(shard) if shard else None, force=force, quiet=quiet,
                                echo=click.echo)  # fmt: skip
    except RunInterrupted as stop:
        click.echo(str(stop), err=True)
        sys.exit(130)
    if summary is None:
        click.echo(f"results so far in {out}; the summary is written when every shard and sample is done")
    elif not quiet:
        click.echo(accuracy_table(summary))
        click.echo(f"results: {out}/results.jsonl  summary: {out}/summary.json  plot: niah plot {out} --out FIG_DIR")


WORKER_DROPS = {"gpus", "shard", "dry_run", "resolve", "force", "quiet"}
"""Options the parent of `--gpus` handles itself rather than passing to its workers."""


def _worker_args(ctx: click.Context) -> list[str]:
    """This command's arguments as given (less WORKER_DROPS; defaults stay the workers' own), for
    the workers of --gpus."""
    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params[param.name]
        if param.name in WORKER_DROPS or value is None or value is False:
            continue
        if ctx.get_parameter_source(param.name) == click.core.ParameterSource.DEFAULT:
            continue
        if isinstance(param, click.Argument):
            args.append(str(value))
        else:
            flag = max(param.opts, key=len)
            args += [flag] if getattr(param, "is_flag", False) else [flag, str(value)]
    return args


def split_variants(text: str) -> list[str]:
    """Split 'vanilla,videorope:delta=1.5,alloc=high,m-rope' into variants: a piece with '=' and
    no ':' continues the options of the variant before it; commas inside [...] do not split
    ('mhrope:mrope_section=[2,3,3]')."""
    out: list[str] = []
    for piece in filter(None, (p.strip() for p in split_top_level(text))):
        if "=" in piece and ":" not in piece and out:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out


def _hf_options(model: str, hf: dict) -> dict:
    """The hf options given, for an hf: model; for any other model an hf option given on the
    command line would silently change nothing, so it is refused."""
    if model.startswith("hf:"):
        return {k: v for k, v in hf.items() if v not in (None, False)}
    ctx = click.get_current_context()
    given = [name for name in hf if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise NiahError(f"{flags} {'is an option' if len(given) == 1 else 'are options'} of hf: models only; "
                        f"'{model}' would ignore {'it' if len(given) == 1 else 'them'}: drop {flags}")  # fmt: skip
    return {}
