"""Presets: small JSON recipes in niah/presets/ that override a base (``"include": "base"``).

A preset fixes every generate option; any option given on the command line overrides it.
Unknown keys are errors, so a typo in a preset cannot silently fall back to a default.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from niah.errors import NiahError, unknown

OPTION_KEYS = {
    "haystack", "width", "height", "fps", "seed", "lengths", "depths", "needles", "families",
    "distractor_period", "distractor_mode",
}  # fmt: skip


def preset_names() -> list[str]:
    """The built-in presets (every JSON file but the base)."""
    files = resources.files("niah.presets").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json") and f.name != "base.json")


def _read(name: str) -> dict[str, Any]:
    path = resources.files("niah.presets") / f"{name}.json"
    if not path.is_file():
        raise unknown("preset", name, preset_names())
    return json.loads(path.read_text())


def load_preset(name: str) -> dict[str, Any]:
    """The preset's options with its includes resolved; the 'description' key is dropped."""
    raw = _read(name)
    parent = load_preset(raw.pop("include")) if "include" in raw else {}
    raw.pop("description", None)
    bad = set(raw) - OPTION_KEYS
    if bad:
        raise NiahError(f"preset '{name}' has unknown keys {sorted(bad)}; allowed: {sorted(OPTION_KEYS)}")
    return {**parent, **raw}


def describe(name: str) -> str:
    return _read(name).get("description", "")
