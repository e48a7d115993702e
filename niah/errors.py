"""The one exception type that reaches a user: it carries a one-line message and exits with code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NiahError(ValueError):
    """Bad input from the user: says what is wrong and what to do, in one line."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The names in `choices` closest to `name` (difflib ratio), best first."""
    return difflib.get_close_matches(name, list(choices), n=n, cutoff=0.4)


def unknown(kind: str, name: str, choices: Iterable[str]) -> NiahError:
    """A NiahError for an unknown registry key, suggesting the closest valid names."""
    choices = sorted(choices)
    near = closest(name, choices)
    hint = f"did you mean {', '.join(near)}?" if near else f"choose from {', '.join(choices)}"
    return NiahError(f"unknown {kind} '{name}': {hint}")
