"""Looking at a dataset: a text summary, its questions, and a contact sheet of one cell."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from niah.data.dataset import Dataset, FrameRef
from niah.data.grid import Cell
from niah.data.images import write_png
from niah.data.needles import LETTERS
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


def distractor_warning(ds: Dataset) -> str | None:
    """One line when some cells hold fewer than two distractors (V-NIAH-D is then V-NIAH or close
    to it there), naming the lengths and what to do; None when every cell has two or more."""
    if not any(n.distractors for n in ds.needles.values()):
        return None
    few = [c for c in ds.cells if sum(i.kind == "distractor" for i in c.insertions) < 2]
    if not few:
        return None
    lengths = sorted({c.length for c in few})
    return (f"warning: {len(few)} of {len(ds.cells)} cells (lengths {', '.join(map(str, lengths))} frames) hold fewer "
            f"than 2 distractors with --distractor-period {ds.options['distractor_period']} "
            f"({ds.options['distractor_mode']}): V-NIAH-D is V-NIAH or close to it there; "
            f"use a period of at most {max(1, min(lengths) // 3)} frames")  # fmt: skip


def questions(ds: Dataset) -> str:
    """Every needle's question, options (the answer marked *), and its distractors' lures."""
    lines = []
    for n in ds.needles.values():
        lines.append(f"{n.id}  [{n.family}]  {n.question}")
        marked = (f"{'*' if i == n.answer else ' '}{LETTERS[i]}. {o}" for i, o in enumerate(n.options))
        lines.append("    " + "   ".join(marked))
        for j, d in enumerate(n.distractors):
            lure = "unknown" if d.lure is None else f"{LETTERS[d.lure]}. {n.options[d.lure]}"
            lines.append(f"    distractor {j} ({d.kind}): lure {lure}; {_find_text(d.satisfies_find)}")
    return "\n".join(lines)


def _find_text(satisfies: bool | None) -> str:
    return {None: "find clause not checked (user image)", True: "SATISFIES the find clause",
            False: "fails the find clause"}[satisfies]  # fmt: skip


def needle_panel(ds: Dataset, needle_id: str, width: int) -> np.ndarray:
    """One row: the needle and each distractor, captioned with the answer, lure and find check."""
    n = ds.needles[needle_id]
    images = [(ds.image(FrameRef("needle", 0, n.id)), f"needle: {LETTERS[n.answer]}. {n.options[n.answer]}", True)]
    for j, d in enumerate(n.distractors):
        lure = "?" if d.lure is None else f"{LETTERS[d.lure]}. {n.options[d.lure]}"
        finds = {None: "find ?", True: "FINDS", False: "find: no"}[d.satisfies_find]
        images.append((ds.image(FrameRef("distractor", j, n.id)), f"d{j} {d.kind}: lure {lure} | {finds}", False))
    tw = max(64, width // max(1, len(images)))
    tiles = []
    for px, caption, is_needle in images:
        th = int(round(tw * px.shape[0] / px.shape[1]))
        tile = cv2.resize(px, (tw, th), interpolation=cv2.INTER_AREA)
        cv2.rectangle(tile, (0, 0), (tw - 1, th - 1), OUTLINE["needle" if is_needle else "distractor"], 3)
        bar = np.full((18, tw, 3), 255, np.uint8)
        cv2.putText(bar, caption, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([tile, bar], axis=0))
    row = np.concatenate(tiles, axis=1)
    title = np.full((20, row.shape[1], 3), 255, np.uint8)
    cv2.putText(title, n.question[: row.shape[1] // 6], (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                cv2.LINE_AA)  # fmt: skip
    return np.concatenate([title, row], axis=0)


def needles_sheet(ds: Dataset, out: str | Path, width: int = 1200) -> Path:
    """A PNG with one row per needle: its question, the needle and each distractor, captioned."""
    rows = [needle_panel(ds, needle_id, width) for needle_id in ds.needles]
    widest = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 8), (0, widest - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return _write_sheet(out, np.concatenate(rows, axis=0))


def _write_sheet(out: str | Path, sheet: np.ndarray) -> Path:
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise NiahError(f"sheet '{out}' must be a .png file")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(out, sheet)
    return out


def find_cell(ds: Dataset, cell_id: str | None) -> Cell:
    """The cell named `cell_id`, or the longest cell with the most distractors by default."""
    if cell_id is None:
        return max(ds.cells, key=lambda c: (len(c.insertions), -c.length))
    for cell in ds.cells:
        if cell.id == cell_id:
            return cell
    raise unknown("cell", cell_id, [c.id for c in ds.cells])


def contact_sheet(ds: Dataset, cell: Cell, out: str | Path, columns: int = 16, max_frames: int = 320) -> Path:
    """A PNG: the needle beside its distractors (captioned), then the cell's frames in order as
    thumbnails, needle outlined green, distractors red.

    Cells longer than `max_frames` show every k-th haystack frame but always every insertion;
    a short cell gets as many columns as it has frames, not a long strip.
    """
    if Path(out).suffix.lower() != ".png":
        raise NiahError(f"sheet '{out}' must be a .png file")
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
    columns = min(columns, max(4, int(np.ceil(np.sqrt(len(thumbs) * 2)))))
    rows = (len(thumbs) + columns - 1) // columns
    blank = np.zeros_like(thumbs[0])
    grid = [np.concatenate(thumbs[r * columns : (r + 1) * columns] + [blank] * (columns - len(thumbs[r * columns :
            (r + 1) * columns])), axis=1) for r in range(rows)]  # fmt: skip
    frames = np.concatenate(grid, axis=0)
    panel = needle_panel(ds, cell.needle, frames.shape[1])
    pad = frames.shape[1] - panel.shape[1]
    panel = np.pad(panel, ((0, 6), (0, max(0, pad)), (0, 0)), constant_values=255)[:, : frames.shape[1]]
    return _write_sheet(out, np.concatenate([panel, frames], axis=0))
