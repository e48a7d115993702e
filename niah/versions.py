"""Versions of Python and of the packages that shape results, for manifests and run dirs."""

from __future__ import annotations

import importlib
import platform

from niah import __version__


def versions(**modules: str) -> dict[str, str]:
    """{"niah", "python", and key → module.__version__ for each key=module given}."""
    out = {"niah": __version__, "python": platform.python_version()}
    for key, module in modules.items():
        out[key] = importlib.import_module(module).__version__
    return out
