"""Shared figure conventions: output formats, saving, axis colours."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # servers have no display
import matplotlib.pyplot as plt  # noqa: E402

from niah.errors import NiahError, disk_hint  # noqa: E402
from niah.files import atomic_replace  # noqa: E402

FORMATS = ("png", "pdf", "svg")
AXIS_COLOURS = {0: "#d62728", 1: "#1f77b4", 2: "#2ca02c", 3: "#9467bd", -1: "#bbbbbb"}  # t, h, w (p0–p3), unrotated
DPI = 200


def check_format(path: str | Path) -> str:
    """The format of an output path from its extension; NiahError unless png, pdf or svg."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise NiahError(f"cannot write '{path}': use a .png, .pdf or .svg file name")
    return ext


def save(fig: plt.Figure, *paths: str | Path) -> list[Path]:
    """Write a figure to each path (format from the extension), creating parent folders; closes it.
    Each file is written in one step (a full disk leaves the old file or none, never half of one)."""
    written = [Path(p) for p in paths]
    try:
        for path in written:
            fmt = check_format(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_replace(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=DPI, bbox_inches="tight"))
    except OSError as err:
        raise NiahError(f"cannot write '{path}': {err.strerror}{disk_hint(err, path)}") from None
    finally:
        plt.close(fig)
    return written
