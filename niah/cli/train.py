"""`niah train`: tiny video-retrieval models, one per (RoPE variant, seed), on the CPU."""

from __future__ import annotations

import click

from niah.cli.run import split_variants


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder of checkpoint dirs.")
@click.option("--variants", default="vanilla,m-rope,videorope", show_default=True,
              help="Comma-separated RoPE variants, with options (videorope:delta=1) or from --plugin.")  # fmt: skip
@click.option("--seeds", default="0", show_default=True, help="Seeds: 0,1,2 or 0:2:1 (one model per variant × seed).")
@click.option("--steps", type=click.IntRange(min=1),
              help="Optimizer steps of 16 samples (default 3600: about 7 min on 2 cores).")  # fmt: skip
@click.option("--lengths", help="Training haystack lengths in frames (default 4,6,8,10,12).")
@click.option("--tasks", help="What the models learn, comma-separated (default v-niah,v-niah-d): add ordering (3 "
              "needles: in which order?) and distance (2 needles: which first?), the tasks only positions answer; "
              "each batch is one of retrieval (half V-NIAH, half V-NIAH-D) or an order task, drawn evenly.")
@click.option("--families", help="Needle families to train on (default colour: the one a default run learns; "
              "shape, count and position are accepted, see docs/train.md).")  # fmt: skip
@click.option("--partial-rotary", type=float, default=1.0, show_default=True,
              help="Fraction of each attention head that rotates (Qwen3.5 and GLM-4.1V rotate 0.25 and 0.5); "
                   "the variant's allocation is formed over those dims, the rest pass through.")  # fmt: skip
@click.option("--width", type=click.IntRange(min=2), default=64, show_default=True,
              help="Model width d (tokens' hidden size).")  # fmt: skip
@click.option("--heads", type=click.IntRange(min=1), default=2, show_default=True,
              help="Attention heads; head_dim = width / heads must be even (64 / 2 = 32: M-RoPE [4, 6, 6] pairs).")
@click.option("--layers", type=click.IntRange(min=1), default=3, show_default=True,
              help="Transformer blocks. The default (3 blocks of 2 heads) learns retrieval; on ordering (3 "
                   "needles) it reached 0.60 in 7200 steps, 4 blocks of 4 heads 0.82-0.84 in 14400, 6 blocks "
                   "0.79-0.92 in 14400 and, in 24000, videorope 0.88-1.00 and m-rope 0.81-0.92 (2 seeds) or "
                   "0.96-1.00 (a third), over 3 item seeds (docs/train.md).")
@click.option("--device", default="cpu", show_default=True,
              help="cpu, cuda or cuda:N: the same data and initial weights either way (drawn on the CPU from the "
                   "seed); a GPU's arithmetic differs from the CPU's in the last bits, so its weights match the "
                   "CPU's closely, not bit for bit.")  # fmt: skip
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="Torch CPU threads; the same seed and thread count give the same weights.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(out: str, variants: str, seeds: str, steps: int | None, lengths: str | None, tasks: str | None,
          families: str | None, partial_rotary: float, width: int, heads: int, layers: int, device: str, threads: int,
          quiet: bool) -> None:  # fmt: skip
    """Train a tiny transformer per RoPE variant and seed on synthetic V-NIAH / V-NIAH-D cells.

    \b
    Each model sees frames as 2×4 pooled patch tokens, the question as words, and answers the
    multiple choice; its attention is rotated by the variant's own positions and frequency
    allocation (niah.rope). Training uses short haystacks; evaluate longer ones with
    niah run DATASET --model tiny:OUT (length extrapolation). Rerunning resumes or skips.
    Default: the colour family, 3600 steps (about 9 min on 2 cores): 100 % V-NIAH and 72-89 %
    V-NIAH-D at the training lengths on fresh held-out data (vanilla, m-rope, videorope; docs/train.md,
    with intervals: no ranking among them is resolved). Compare variants only within one run.
    Examples:
      niah train --out models                                  # vanilla, m-rope, videorope
      niah train --variants hope,mrope-interleaved --seeds 0,1,2 --out models
      niah train --device cuda --seeds 0,1,2 --out models      # a GPU: the study of docs/train.md in minutes
      niah --plugin my_rope.py train --variants my-rope --out models
      niah run data/demo --model tiny:models --variants vanilla,m-rope,videorope --out runs/tiny
    """
    from tqdm import tqdm

    from niah.data.grid import parse_int_list
    from niah.train.run import train_all

    bars: dict[str, tqdm] = {}

    def progress(name: str, step: int, total: int, stats: dict[str, float]) -> None:
        if quiet:
            return
        bar = bars.get(name) or bars.setdefault(name, tqdm(total=total, desc=name, unit="step"))
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{stats['loss']:.3f}", refresh=False)

    try:
        done = train_all(out, split_variants(variants), parse_int_list(seeds, "seeds"), steps=steps,
                         lengths=parse_int_list(lengths, "lengths") if lengths else None, threads=threads,
                         families=[f for f in families.split(",") if f] if families else None,
                         progress=progress, partial_rotary=partial_rotary, device=device,
                         tasks=[t for t in tasks.split(",") if t] if tasks else None,
                         size={"width": width, "heads": heads, "layers": layers})  # fmt: skip
    finally:
        for bar in bars.values():
            bar.close()
    for path, summary in done:
        click.echo(f"{path}  {summary}")
