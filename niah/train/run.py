"""Training every (variant, seed) of a `niah train` call into one folder of checkpoint dirs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from niah.data.families import get_family
from niah.errors import NiahError, unknown
from niah.rope import resolve_variant
from niah.train.data import POOL_FRAMES, build_pool
from niah.train.model import TRAINABLE_TASKS, TinyConfig, perceivable_families
from niah.train.trainer import LOG, TrainOptions, checkpoint_name, train

Progress = Callable[[str, int, int, dict[str, float]], None]
"""progress(checkpoint name, step, steps, {"loss": ...})"""


def train_all(out: str | Path, variants: list[str], seeds: list[int], steps: int | None = None,
              lengths: list[int] | None = None, threads: int = 2, families: list[str] | None = None,
              progress: Progress | None = None, partial_rotary: float = 1.0, device: str = "cpu",
              tasks: list[str] | None = None, size: dict[str, int] | None = None
              ) -> list[tuple[Path, str]]:  # fmt: skip
    """Train (or resume, or skip) one model per variant × seed into out/NAME-sS on `device` ("cpu",
    "cuda", "cuda:1"). Returns each checkpoint dir with a one-line summary of its last log line.
    `partial_rotary`: the fraction of each head that rotates (Qwen3.5's 0.25), for every model;
    `tasks`: what the models learn (default the two retrieval tasks; ordering and distance too);
    `size`: TinyConfig's width, heads and layers (default its own)."""
    check_device(device)
    size = size or {}
    try:
        TinyConfig(partial_rotary=partial_rotary, **size)  # an even number of rotated dims per head
    except ValueError as err:
        raise NiahError(f"{_flags(partial_rotary, size)}: {err}") from None
    resolved = [resolve_variant(v) for v in variants]  # unknown names fail here, before any work
    for variant in resolved:
        variant.require_shared_table("the tiny model")
        variant.require_layer_effect(TinyConfig(**size).layers, "the tiny model")
    specs = [v.spec for v in resolved]
    if not specs or not seeds:
        raise NiahError("give at least one variant and one seed")
    if min(seeds) < 0:
        raise NiahError(f"seeds must be 0 or more, got {min(seeds)}")
    if lengths is not None and min(lengths) < 1:
        raise NiahError(f"training lengths must be at least 1 frame, got {min(lengths)}")
    if lengths is not None and max(lengths) >= POOL_FRAMES:
        raise NiahError(f"training lengths must be below {POOL_FRAMES} frames (the training haystack pool), got "
                        f"{max(lengths)}: train short and evaluate long with niah run")  # fmt: skip
    for name in families or []:
        if not get_family(name).perceivable:
            raise NiahError(f"needle family '{name}' needs reading digits or words, which a tiny model's pooled "
                            f"pixels cannot: choose from {', '.join(perceivable_families())}")  # fmt: skip
    for task in tasks or []:
        if task not in TRAINABLE_TASKS:
            raise unknown("task a tiny model can learn", task, TRAINABLE_TASKS)
    if tasks is not None and not tasks:
        raise NiahError(f"give at least one task to train: {', '.join(TRAINABLE_TASKS)}")
    defaults = TrainOptions()
    done = []
    for seed in seeds:
        options = TrainOptions(seed=seed, steps=steps or defaults.steps, lengths=lengths or defaults.lengths)
        pool = None
        for spec in specs:
            chosen = {k: v for k, v in (("families", families), ("tasks", tasks)) if v}
            config = TinyConfig(variant=spec, partial_rotary=partial_rotary, **chosen, **size)
            pool = pool or build_pool(config, seed)  # every variant of a seed sees the same frames
            name = checkpoint_name(spec, seed)
            report = (lambda s, n, st, name=name: progress(name, s, n, st)) if progress else None
            path = train(Path(out) / name, config, options, threads, pool, report, device)
            done.append((path, _last_line(path)))
    return done


def _flags(partial_rotary: float, size: dict[str, int]) -> str:
    """The model-shape options as the CLI spells them, for an error."""
    return " ".join([f"--{k} {v}" for k, v in size.items()] + [f"--partial-rotary {partial_rotary:g}"])


def check_device(device: str) -> None:
    """NiahError, before any work, for a device torch cannot use here."""
    import torch

    try:
        target = torch.device(device)
    except RuntimeError:
        raise NiahError(f"--device '{device}' is not a device: use cpu, cuda or cuda:N") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise NiahError(f"--device {device}: this machine has no CUDA GPU torch can use: train with --device cpu")
    if target.type == "cuda" and (target.index or 0) >= torch.cuda.device_count():
        raise NiahError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if target.type not in ("cpu", "cuda"):
        raise NiahError(f"--device {device}: niah train runs on cpu or cuda")


def _last_line(path: Path) -> str:
    lines = (path / LOG).read_text().splitlines() if (path / LOG).is_file() else []
    if not lines:
        return "trained"
    last = json.loads(lines[-1])
    accuracy = "" if last.get("accuracy") is None else f", training accuracy {last['accuracy']:.3f}"
    return f"step {last['step']}: loss {last['loss']:.3f}{accuracy}"
