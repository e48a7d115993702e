"""Looking at a dataset: a text summary and a contact sheet of one cell."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from niah.data.dataset import Dataset
from niah.data.grid import Cell
from niah.errors import NiahError, unknown

OUTLINE = {"needle": (40, 200, 60), "distractor": (230, 60, 40)}  # RGB: needle green, distractor red


def summary(ds: Dataset) -> str:
    """Sizes, grid and counts of a dataset, one fact a line."""
    o = ds.options
    per_kind = Counter(i.kind for c in ds.cells for i in c.insertions)
    size_mb = sum(p.stat().st_size for p in ds.path.rglob("*") if p.is_file()) / 1e6
    families = Counter(n.family for n in ds.needles.values())
    lines = [
        f"dataset      {ds.path}  ({size_mb:.1f} MB, preset {ds.manifest.get('preset')}, seed {o['seed']})",
        f"haystack     {o['haystack']}{' ' + o['source'] if o.get('source') else ''}: "
        f"{ds.manifest['counts']['haystack_frames']} frames, {o['width']}x{o['height']} at {o['fps']:g} fps",
        f"lengths      {len(ds.lengths)}: {', '.join(map(str, ds.lengths))} frames",
        f"depths       {len(ds.depths)}: {', '.join(map(str, ds.depths))} %",
        f"needles      {len(ds.needles)}: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())),
        f"cells        {len(ds.cells)} (length × depth × needle)",
        f"distractors  {o['distractor_mode']} every {o['distractor_period']} frames: "
        f"{per_kind['distractor']} in all, {per_kind['distractor'] / max(1, len(ds.cells)):.1f} per cell",
    ]
    if (ds.path / "cells").is_dir():
        lines.append("materialised cells/ (one MP4 per cell + questions.jsonl)")
    return "\n".join(lines)


def find_cell(ds: Dataset, cell_id: str | None) -> Cell:
    """The cell named `cell_id`, or the longest cell with the most distractors by default."""
    if cell_id is None:
        return max(ds.cells, key=lambda c: (len(c.insertions), -c.length))
    for cell in ds.cells:
        if cell.id == cell_id:
            return cell
    raise unknown("cell", cell_id, [c.id for c in ds.cells])


def contact_sheet(ds: Dataset, cell: Cell, out: str | Path, columns: int = 16, max_frames: int = 320) -> Path:
    """A PNG of the cell's frames in order as thumbnails, needle outlined green, distractors red.

    Cells longer than `max_frames` show every k-th haystack frame but always every insertion.
    """
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise NiahError(f"contact sheet '{out}' must be a .png file")
    refs = ds.sequence(cell)
    step = max(1, len(refs) // max_frames)
    thumbs = []
    tw = 112
    for i, (ref, px) in enumerate(ds.frames(cell)):
        if ref.kind == "haystack" and i % step:
            continue
        th = int(round(tw * px.shape[0] / px.shape[1]))
        t = cv2.resize(px, (tw, th), interpolation=cv2.INTER_AREA)
        if ref.kind in OUTLINE:
            cv2.rectangle(t, (0, 0), (tw - 1, th - 1), OUTLINE[ref.kind], 4)
        cv2.putText(t, str(i), (3, th - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        thumbs.append(t)
    rows = (len(thumbs) + columns - 1) // columns
    blank = np.zeros_like(thumbs[0])
    grid = [np.concatenate(thumbs[r * columns : (r + 1) * columns] + [blank] * (columns - len(thumbs[r * columns :
            (r + 1) * columns])), axis=1) for r in range(rows)]  # fmt: skip
    sheet = np.concatenate(grid, axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise NiahError(f"cannot write '{out}'")
    return out
