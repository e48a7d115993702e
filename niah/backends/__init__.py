"""Backends that answer samples: a registry from the --model prefix to a factory.

probe                      the training-free attention probe (CPU, no weights)
probe:heads=8,semantic=0.5 the probe with options
hf:Qwen/Qwen2-VL-7B-Instruct, hf:./my-ckpt   a transformers video LLM (niah.backends.hf)
tiny:models/, tiny:models/,seed=1            tiny models trained by niah train (niah.backends.tiny)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from niah.backends.base import Backend, Sample, SampleResult
from niah.errors import NiahError, unknown


def _probe(arg: str, seed: int, options: dict[str, Any]) -> Backend:
    from niah.backends.probe import ProbeBackend

    kwargs: dict[str, Any] = {"seed": seed}
    allowed = {"heads": int, "head_dim": int, "theta": float, "semantic": float, "beta": float}
    for item in filter(None, arg.split(",")):
        key, _, value = item.partition("=")
        if key not in allowed:
            raise NiahError(f"unknown probe option '{key}': choose from {', '.join(allowed)}")
        try:
            kwargs[key] = allowed[key](value)
        except ValueError:
            raise NiahError(f"probe option {key}='{value}' must be a {allowed[key].__name__}") from None
    try:
        return ProbeBackend(**kwargs)
    except ValueError as err:
        raise NiahError(f"bad probe options: {err}") from None


def _hf(arg: str, seed: int, options: dict[str, Any]) -> Backend:
    from niah.backends.hf import make_hf_backend

    return make_hf_backend(arg, seed=seed, **options)


def _tiny(arg: str, seed: int, options: dict[str, Any]) -> Backend:
    from niah.backends.tiny import make_tiny_backend

    return make_tiny_backend(arg, seed, **options)


BACKENDS: dict[str, Callable[[str, int, dict[str, Any]], Backend]] = {"probe": _probe, "hf": _hf, "tiny": _tiny}


def make_backend(model: str, seed: int = 0, **options: Any) -> Backend:
    """The backend for a --model string ('probe', 'probe:k=v', 'hf:ID_OR_PATH')."""
    prefix, _, arg = model.partition(":")
    if prefix not in BACKENDS:
        raise unknown("model backend", prefix, BACKENDS)
    return BACKENDS[prefix](arg, seed, options)


__all__ = ["BACKENDS", "Backend", "Sample", "SampleResult", "make_backend"]
