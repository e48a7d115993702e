"""Presets: small JSON haystack recipes in haystacks/ that override a base (``"include": "base"``).

`--preset` takes a built-in name (a file in haystacks/, installed as niah.haystacks) or the path of
a recipe file of the same form; a recipe's "include" names a built-in or a path relative to it.
A preset fixes every generate option; any option given on the command line overrides it.
Unknown keys are errors, so a typo in a preset cannot silently fall back to a default.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from niah.errors import NiahError, unknown

OPTION_KEYS = {
    "haystack", "width", "height", "fps", "seed", "lengths", "depths", "needles", "families",
    "distractor_period", "distractor_mode", "distractor_kind", "tasks",
}  # fmt: skip


def preset_names() -> list[str]:
    """The built-in presets (every JSON file in haystacks/ but the base)."""
    files = resources.files("niah.haystacks").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json") and f.name != "base.json")


def _locate(name: str, relative_to: Path | None = None) -> Path:
    """A recipe file: a path (relative to the including recipe) or a built-in name."""
    for candidate in ([relative_to / name] if relative_to else []) + [Path(name)]:
        if candidate.suffix == ".json" and candidate.is_file():
            return candidate
    builtin = resources.files("niah.haystacks") / f"{name}.json"
    if builtin.is_file():
        return Path(str(builtin))
    if name.endswith(".json") or "/" in name:
        raise NiahError(f"preset file '{name}' does not exist")
    raise unknown("preset", name, preset_names())


def _read(name: str, relative_to: Path | None = None) -> tuple[Path, dict[str, Any]]:
    path = _locate(name, relative_to)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise NiahError(f"preset '{path}' is not a readable JSON recipe ({err})") from None
    if not isinstance(raw, dict):
        raise NiahError(f"preset '{path}' must hold a JSON object of generate options")
    return path, raw


def load_preset(name: str, relative_to: Path | None = None) -> dict[str, Any]:
    """The preset's options with its includes resolved; the 'description' key is dropped."""
    path, raw = _read(name, relative_to)
    parent = load_preset(raw.pop("include"), path.parent) if "include" in raw else {}
    raw.pop("description", None)
    bad = set(raw) - OPTION_KEYS
    if bad:
        raise NiahError(f"preset '{name}' has unknown keys {sorted(bad)}; allowed: {sorted(OPTION_KEYS)}")
    return {**parent, **raw}


def describe(name: str) -> str:
    return _read(name)[1].get("description", "")
