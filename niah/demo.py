"""`niah demo`: the whole loop on the demo preset — generate, run, plot — with the tiny models
shipped in models/demo (one per registered variant, trained by scripts/train_all.sh on 4–12
frames, so the demo's 16–64 frames test length extrapolation), or the CPU probe, or an hf model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from niah.data.generate import generate, resolve_config
from niah.errors import NiahError
from niah.plot.report import plot_runs
from niah.rope import VARIANTS, resolve_variant
from niah.sweep.engine import DEFAULT_TASKS, RunConfig, run_sweep

DEMO_VARIANTS = ["vanilla", "m-rope", "videorope"] + [
    v for v in VARIANTS if v not in ("vanilla", "m-rope", "videorope") and not resolve_variant(v).per_head
]
"""Every registered variant the probe can run (not mhrope: a table per KV head), the usual three first."""


DEMO_MODEL = "tiny:@demo"  # '@': the shipped set, even where a ./demo folder exists


def run_demo(out: str | Path, model: str = DEMO_MODEL, variants: list[str] | None = None, quiet: bool = False,
             echo: Callable[[str], None] = print, **backend_options) -> dict:  # fmt: skip
    """Generate out/data, run out/run, plot out/figures; every step reuses what already exists.
    Returns {"dataset", "run", "figures", "summary"}."""
    out = Path(out)
    if variants is None and model.startswith("tiny:"):
        from niah.backends.tiny import trained_variants

        variants = trained_variants(model.removeprefix("tiny:"))
    echo(f"1/3 dataset  {out / 'data'}")
    data = generate(out / "data", resolve_config("demo"))
    echo(
        f"2/3 run      {out / 'run'}  ({model}, {len(variants or DEMO_VARIANTS)} variants × {len(DEFAULT_TASKS)} tasks)"
    )
    config = RunConfig(str(data), model=model, variants=variants or DEMO_VARIANTS, backend_options=backend_options)
    summary = run_sweep(config, out / "run", quiet=quiet, echo=echo)
    if summary is None:
        raise NiahError(
            f"some demo samples failed (see {out / 'run' / 'results.jsonl'}): rerun niah demo to retry them"
        )
    echo(f"3/3 figures  {out / 'figures'}")
    figures = plot_runs([out / "run"], out / "figures")
    return {"dataset": data, "run": out / "run", "figures": figures, "summary": summary}
