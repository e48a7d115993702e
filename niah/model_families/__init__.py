"""Supported transformers video-LLM families: a registry keyed by the config's model_type, one
module per family line in this package.

A leaf package (no torch, no transformers at import): the hf backend loads checkpoints by it, and
`niah rope list` names each family's native variant from it without starting either.

Each family module (qwen2_vl.py, glm4v.py, ...) declares everything niah knows of it — `FAMILIES`:
its `Family` rows (the RoPE variant that reproduces the unmodified model, how its prompt lays out a
video, its vision tower's kind, pair layout and section order, its published processor files and a
tiny random config); `MARKUPS`: the `VideoMarkup` of a prompt that writes a video in tokens of its
own; `RANK`: its place in the registry's order. A new family is one such module (importing what
it shares from the others) plus its fixtures; the backend, the tiny checkpoints and README's
family table read it from here. A family whose frames reach its vision tower otherwise than
patches, tiles, pooled frames or ERNIE's merged pairs adds an encoder to
niah.backends.hf.vision.ENCODERS too.
"""

from __future__ import annotations

import importlib
import pkgutil

from niah.errors import NiahError
from niah.model_families.base import Family, VideoMarkup


def _discover() -> tuple[dict[str, Family], dict[str, VideoMarkup]]:
    """Every family module of this package, in RANK order: its families and markups."""
    modules = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)
               if m.name != "base"]  # fmt: skip
    families: dict[str, Family] = {}
    markups: dict[str, VideoMarkup] = {}
    for module in sorted(modules, key=lambda m: (m.RANK, m.__name__)):
        markups.update(getattr(module, "MARKUPS", {}))
        families.update({f.name: f for f in module.FAMILIES})
    return families, markups


MODEL_FAMILIES, VIDEO_MARKUPS = _discover()
"""model_type → Family; markup name (Family.markup) → how its prompt writes a video."""


def family_of(model_type: str, where: str) -> Family:
    if model_type not in MODEL_FAMILIES:
        raise NiahError(f"model '{where}' is a {model_type}: niah supports {', '.join(MODEL_FAMILIES)} "
                        f"({', '.join(f.title for f in MODEL_FAMILIES.values())})")  # fmt: skip
    return MODEL_FAMILIES[model_type]


__all__ = ["MODEL_FAMILIES", "VIDEO_MARKUPS", "Family", "VideoMarkup", "family_of"]
