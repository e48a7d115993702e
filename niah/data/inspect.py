"""Looking at a dataset: a text summary, its questions, and a contact sheet of one cell."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from niah.data.dataset import Dataset, DistractorRecord, FrameRef, NeedleRecord
from niah.data.families import NEEDLE_FAMILIES
from niah.data.grid import LOOKALIKE_KINDS, Cell
from niah.data.images import write_png
from niah.data.needles import LETTERS
from niah.errors import NiahError, unknown

OUTLINE = {"needle": (40, 200, 60), "distractor": (230, 60, 40), "decoy": (240, 170, 20)}  # RGB: green, red, amber
PANEL_COLUMNS = 8  # images per row of a needle panel (a built-in needle has 16)


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
        f"look-alikes  {o['distractor_mode']}, period {o['distractor_period']} frames: "
        f"{per_kind['distractor'] + per_kind['decoy']} in all, "
        f"{(per_kind['distractor'] + per_kind['decoy']) / max(1, len(ds.cells)):.1f} per cell "
        f"({per_kind['distractor']} show a lure, {per_kind['decoy']} are decoys showing the answer)",
    ]
    for task, cells in ds.task_cells.items():
        axis = ds.manifest.get("axes", {}).get(task, "depth")
        lines.append(f"{task:<12} {len(cells)} cells (length × {axis} × needle), task_cells.jsonl")
    if (ds.path / "cells").is_dir():
        lines.append("materialised cells/ (one MP4 per cell + questions.jsonl)")
    return "\n".join(lines)


def distractor_warning(ds: Dataset) -> str | None:
    """One line when some cells hold fewer than two look-alikes (V-NIAH-D is then V-NIAH or close
    to it there; single mode: when some hold none), naming the lengths and what to do; None when
    every cell has enough."""
    if not any(n.distractors for n in ds.needles.values()):
        return None
    single = ds.options["distractor_mode"] == "single"
    few = [c for c in ds.cells if sum(i.kind in LOOKALIKE_KINDS for i in c.insertions) < (1 if single else 2)]
    if not few:
        return None
    lengths = sorted({c.length for c in few})
    if single:
        return (f"warning: {len(few)} of {len(ds.cells)} cells (lengths {', '.join(map(str, lengths))} frames) hold no "
                f"look-alike: VideoRoPE's released rule inserts none where neither needle ± "
                f"{ds.options['distractor_period']} frames fits; their V-NIAH-D equals V-NIAH")  # fmt: skip
    return (f"warning: {len(few)} of {len(ds.cells)} cells (lengths {', '.join(map(str, lengths))} frames) hold fewer "
            f"than 2 look-alikes with --distractor-period {ds.options['distractor_period']} "
            f"({ds.options['distractor_mode']}): V-NIAH-D is V-NIAH or close to it there; "
            f"use a period of at most {max(1, min(lengths) // 3)} frames")  # fmt: skip


def family_warning(ds: Dataset) -> str | None:
    """One line when built-in needles cycle over more families than there are needles, so some
    family never appears; None otherwise (or for the user's own needles)."""
    if ds.options.get("needle_file"):
        return None
    asked = ds.options.get("families") or list(NEEDLE_FAMILIES)
    missing = [f for f in asked if f not in {n.family for n in ds.needles.values()}]
    if not missing:
        return None
    return (f"warning: no needle of {', '.join(missing)}: {len(ds.needles)} needles cycle over {len(asked)} families; "
            f"pass --needles-per-cell {len(asked)} (or a multiple) to cover every family, or --families to choose")


def questions(ds: Dataset) -> str:
    """Every needle's question, options (the answer marked *), and what each look-alike shows."""
    lines = []
    for n in ds.needles.values():
        lines.append(f"{n.id}  [{n.family}]  {n.question}")
        if len(n.options) <= 1:
            lines.append(f"    open question, answer: {n.options[n.answer]}")
        else:
            marked = (f"{'*' if i == n.answer else ' '}{LETTERS[i]}. {o}" for i, o in enumerate(n.options))
            lines.append("    " + "   ".join(marked))
        for j, d in enumerate(n.distractors):
            lines.append(f"    look-alike {j} ({d.kind}{', ' + d.key if d.key else ''}): {_shows(n, d)}; "
                         f"{_find_text(d.satisfies_find)}")  # fmt: skip
    return "\n".join(lines)


def _shows(n: NeedleRecord, d: DistractorRecord) -> str:
    if d.lure is None:
        return "lure unknown"
    return f"{'decoy, shows the answer' if d.decoy else 'lure'} {LETTERS[d.lure]}. {n.options[d.lure]}"


def _find_text(satisfies: bool | None) -> str:
    return {None: "find clause not checked (user image)", True: "SATISFIES the find clause",
            False: "fails the find clause"}[satisfies]  # fmt: skip


def needle_panel(ds: Dataset, needle_id: str, width: int) -> np.ndarray:
    """The needle and each look-alike, PANEL_COLUMNS a row, captioned with the answer, the option
    shown (lure or decoy) and the find check; outlined green (needle), red (lure), amber (decoy)."""
    n = ds.needles[needle_id]
    images = [(ds.image(FrameRef("needle", 0, n.id)), f"needle: {LETTERS[n.answer]}. {n.options[n.answer]}", "needle")]
    for j, d in enumerate(n.distractors):
        shown = "?" if d.lure is None else f"{LETTERS[d.lure]}. {n.options[d.lure]}"
        finds = {None: "find ?", True: "FINDS", False: "no find"}[d.satisfies_find]
        role = "decoy" if d.decoy else "distractor"
        images.append((ds.image(FrameRef("distractor", j, n.id)), f"{j} {'decoy' if d.decoy else 'lure'} {shown} | "
                       f"{finds}", role))  # fmt: skip
    return _panel([n.question], images, width)


def cell_title(ds: Dataset, cell: Cell) -> list[str]:
    """The lines a contact sheet's header says of what `cell` asks: a retrieval cell its needle's
    question; a multi-needle task's cell its own question, then its options with the answer starred."""
    if cell.asked is None:
        return [ds.needles[cell.needle].question]
    options = "  ".join(f"{LETTERS[k]}. {o}{' *' if k == cell.asked.answer else ''}"
                        for k, o in enumerate(cell.asked.options))  # fmt: skip
    return [cell.asked.question, options]


def cell_panel(ds: Dataset, cell: Cell, width: int) -> np.ndarray:
    """The header of a cell's contact sheet: a retrieval cell's needle panel; for a multi-needle
    task's cell, its question and options (`cell_title`) over the frames it inserts, in order,
    captioned with the needle each is and outlined by role."""
    if cell.asked is None:
        return needle_panel(ds, cell.needle, width)
    images = []
    for i in sorted(cell.insertions, key=lambda i: i.index):
        owner = i.needle or cell.needle
        kind = "needle" if i.kind == "needle" else "distractor"
        images.append((ds.image(FrameRef(kind, i.image, owner)), f"{i.index}: {i.kind} {owner}", i.kind))
    return _panel(cell_title(ds, cell), images, width)


def _panel(lines: list[str], images: list[tuple[np.ndarray, str, str]], width: int) -> np.ndarray:
    """Title `lines` over captioned images (pixels, caption, role), PANEL_COLUMNS a row, each
    outlined by its role (OUTLINE)."""
    columns = min(PANEL_COLUMNS, len(images))
    tw = max(64, width // columns)
    tiles = []
    for px, caption, role in images:
        th = int(round(tw * px.shape[0] / px.shape[1]))
        tile = cv2.resize(px, (tw, th), interpolation=cv2.INTER_AREA)
        cv2.rectangle(tile, (0, 0), (tw - 1, th - 1), OUTLINE[role], 3)
        bar = np.full((18, tw, 3), 255, np.uint8)
        cv2.putText(bar, caption, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([tile, bar], axis=0))
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % columns)
    row = np.concatenate([np.concatenate(tiles[r : r + columns], axis=1) for r in range(0, len(tiles), columns)])
    title = np.full((20 * len(lines), row.shape[1], 3), 255, np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(title, line[: row.shape[1] // 6], (3, 14 + 20 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
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
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_png(out, sheet)
    except OSError as err:
        raise NiahError(f"cannot write '{out}': {err.strerror}: choose another path") from None
    return out


def find_cell(ds: Dataset, cell_id: str | None) -> Cell:
    """The cell named `cell_id` (a retrieval or a multi-needle task's cell), or by default the
    retrieval cell with the most look-alikes (the shortest of those)."""
    if cell_id is None:
        return max(ds.cells, key=lambda c: (len(c.insertions), -c.length))
    for cell in ds.all_cells:
        if cell.id == cell_id:
            return cell
    raise unknown("cell", cell_id, [c.id for c in ds.all_cells])


def contact_sheet(ds: Dataset, cell: Cell, out: str | Path, columns: int = 16, max_frames: int = 320) -> Path:
    """A PNG: what the cell asks over the needle beside its look-alikes (captioned; a multi-needle
    task's cell: its question and options over the frames it inserts, `cell_panel`), then the
    cell's frames in order as thumbnails, needle outlined green, look-alikes showing a lure red,
    decoys amber.

    Cells longer than `max_frames` show every k-th haystack frame but always every insertion;
    a short cell gets as many columns as it has frames, not a long strip.
    """
    if Path(out).suffix.lower() != ".png":
        raise NiahError(f"sheet '{out}' must be a .png file")
    refs = ds.sequence(cell)
    roles = {i.index: i.kind for i in cell.insertions}
    step = max(1, len(refs) // max_frames)
    thumbs = []
    tw = 112
    for i, (ref, px) in enumerate(ds.frames(cell)):
        if ref.kind == "haystack" and i % step:
            continue
        th = int(round(tw * px.shape[0] / px.shape[1]))
        t = cv2.resize(px, (tw, th), interpolation=cv2.INTER_AREA)
        if i in roles:
            cv2.rectangle(t, (0, 0), (tw - 1, th - 1), OUTLINE[roles[i]], 4)
        cv2.putText(t, str(i), (3, th - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        thumbs.append(t)
    columns = min(columns, max(4, int(np.ceil(np.sqrt(len(thumbs) * 2)))))
    rows = (len(thumbs) + columns - 1) // columns
    blank = np.zeros_like(thumbs[0])
    grid = [np.concatenate(thumbs[r * columns : (r + 1) * columns] + [blank] * (columns - len(thumbs[r * columns :
            (r + 1) * columns])), axis=1) for r in range(rows)]  # fmt: skip
    frames = np.concatenate(grid, axis=0)
    panel = cell_panel(ds, cell, frames.shape[1])
    pad = frames.shape[1] - panel.shape[1]
    panel = np.pad(panel, ((0, 6), (0, max(0, pad)), (0, 0)), constant_values=255)[:, : frames.shape[1]]
    return _write_sheet(out, np.concatenate([panel, frames], axis=0))
