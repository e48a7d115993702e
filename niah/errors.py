"""The one exception type that reaches a user: it carries a one-line message and exits with code 2."""

from __future__ import annotations

import difflib
import errno
import shutil
from collections.abc import Iterable
from pathlib import Path


class NiahError(ValueError):
    """Bad input from the user: says what is wrong and what to do, in one line."""


class NiahWarning(UserWarning):
    """Something odd in the user's input that niah goes on with: one line, printed by the CLI as
    'warning: ...' when it happens."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The names in `choices` closest to `name` (difflib ratio), best first."""
    return difflib.get_close_matches(name, list(choices), n=n, cutoff=0.4)


def unknown(kind: str, name: str, choices: Iterable[str]) -> NiahError:
    """A NiahError for an unknown registry key, suggesting the closest valid names."""
    choices = sorted(choices)
    near = closest(name, choices)
    hint = f"did you mean {', '.join(near)}?" if near else f"choose from {', '.join(choices)}"
    return NiahError(f"unknown {kind} '{name}': {hint}")


FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_hint(err: OSError, path: str | Path | None = None) -> str:
    """For a full disk or quota: ' (N MB free on the disk of PATH): free space and rerun, finished
    work is kept'; '' for any other OSError."""
    if err.errno not in FULL:
        return ""
    where = Path(path or err.filename or ".")
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = f"{shutil.disk_usage(where).free / 2**20:,.0f} MB free on the disk of '{where}'"
    except OSError:
        free = "the disk is full"
    return f" ({free}): free some space and rerun the same command; finished work is kept"


def full_disk_error(err: OSError) -> NiahError | None:
    """The one-line NiahError for an OSError of a full disk or quota, naming the file; else None."""
    if err.errno not in FULL:
        return None
    return NiahError(f"no space left writing '{err.filename or 'a file'}'{disk_hint(err)}")
