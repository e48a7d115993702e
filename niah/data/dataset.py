"""Reading a dataset dir: manifest, needles, cells, and each cell's frame sequence.

Layout of a dataset dir (written by niah.data.generate):

    manifest.json     every option, seed, versions, sha256 of every file
    haystack.mp4      the haystack (H.264, dataset fps), as long as the longest length
    needles/          needles.jsonl + one PNG per needle and per distractor
    cells.jsonl       one line per (length, depth, needle): insertions with slots and indices
    task_cells.jsonl  only with multi-needle tasks (--tasks ordering,...): one line per (task,
                      length, depth, needle), every needle's insertion, the question, options, answer
    cells/            only with --materialize: one MP4 per cell + questions.jsonl

A cell's frames are described by `FrameRef`s (what a frame is, not its pixels), so backends can
cache work per unique frame; `Dataset.frames(cell)` yields the pixels, decoding each haystack
frame at most once per call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from niah.data.grid import Cell
from niah.data.images import load_png
from niah.data.video_io import read_frames
from niah.errors import NiahError

MANIFEST = "manifest.json"
HAYSTACK = "haystack.mp4"
NEEDLES_DIR = "needles"
CELLS = "cells.jsonl"
TASK_CELLS = "task_cells.jsonl"  # the multi-needle tasks' cells (niah.data.multi), when generated
RETRIEVAL_TASKS = ("v-niah", "v-niah-d")  # the tasks that run on cells.jsonl (a dataset's default)
DEPTH_AXIS = "depth (%)"  # what the grid's second axis is for the retrieval tasks
REQUIRED_OPTIONS = ("width", "height", "fps", "seed", "distractor_mode", "distractor_period")  # what readers use


@dataclass(frozen=True)
class FrameRef:
    """One frame of a cell: haystack frame `index`, or a needle / look-alike image of `needle`
    (kind "distractor" for every look-alike, decoys included: the cell's insertion says which)."""

    KINDS = ("haystack", "needle", "distractor")

    kind: str  # one of KINDS
    index: int = 0  # haystack frame index, the distractor's number, or 1 + option of a same-key needle image
    needle: str = ""

    @property
    def key(self) -> str:
        """A stable string naming the frame's content, e.g. 'h17', 'n:n000-colour', 'n:n000-colour:2' (its
        key beside option 2, the multi-key task's), 'd:n000-colour:1'."""
        if self.kind == "haystack":
            return f"h{self.index}"
        if self.kind == "needle":
            return f"n:{self.needle}" if self.index == 0 else f"n:{self.needle}:{self.index}"
        return f"d:{self.needle}:{self.index}"


@dataclass(frozen=True)
class DistractorRecord:
    """A look-alike as stored: its image file, the option index it shows (`lure`, None when not
    known; the answer for a `decoy`), its kind (near, scene, user) and whether it satisfies the
    find clause (None: not known)."""

    image: str
    lure: int | None
    kind: str = "user"
    satisfies_find: bool | None = None
    decoy: bool = False
    key: str | None = None  # the key object it shows, "colour shape"; None: not known


@dataclass(frozen=True)
class NeedleRecord:
    """A needle as stored (needles/needles.jsonl): find and ask clauses, options, answer index,
    image files relative to needles/, the key's and the value's boxes (x0, y0, x1, y1) in pixels
    when known."""

    id: str
    family: str
    find: str
    ask: str
    question: str
    options: list[str]
    answer: int
    image: str
    key_box: list[int] | None
    value_box: list[int] | None
    distractors: list[DistractorRecord]
    key: str | None = None  # what the find clause names, "colour shape"; None: not known
    same_key: list[dict] = field(default_factory=list)  # [{image, value}]: its key beside another option

    @classmethod
    def from_json(cls, d: dict) -> NeedleRecord:
        return cls(**{**d, "distractors": [DistractorRecord(**x) for x in d["distractors"]]})

    @property
    def lures(self) -> list[int | None]:
        return [d.lure for d in self.distractors]

    def reordered(self, order: tuple[int, ...]) -> NeedleRecord:
        """This needle with its options shown in `order` (order[k]: the option shown k-th), the
        answer and every look-alike's option renumbered to match; itself for an empty order."""
        if not order or list(order) == list(range(len(self.options))):
            return self
        where = {j: k for k, j in enumerate(order)}
        looks = [replace(d, lure=None if d.lure is None else where[d.lure]) for d in self.distractors]
        return replace(self, options=[self.options[j] for j in order], answer=where[self.answer], distractors=looks)


def cell_sequence(cell: Cell) -> list[FrameRef]:
    """A cell's frames in order: haystack frames 0..L−1 with the insertions in place."""
    refs: list[FrameRef] = []
    slots = iter(cell.insertions)
    nxt = next(slots, None)
    for k in range(cell.length + 1):
        while nxt is not None and nxt.slot == k:
            needle = nxt.needle or cell.needle
            refs.append(FrameRef("needle", nxt.image, needle) if nxt.kind == "needle"
                        else FrameRef("distractor", nxt.image, needle))  # a decoy is a look-alike image too
            nxt = next(slots, None)
        if k < cell.length:
            refs.append(FrameRef("haystack", k))
    return refs


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Dataset:
    """A dataset dir opened for reading; bad or incomplete dirs raise NiahError."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            raise NiahError(f"'{self.path}' is not a niah dataset (no {MANIFEST}): make one with niah generate")
        try:
            self.manifest = json.loads(manifest.read_text())
            options = self.manifest["options"]
            if not isinstance(options, dict) or not all(k in options for k in REQUIRED_OPTIONS):
                raise KeyError(f"options lack {', '.join(k for k in REQUIRED_OPTIONS if k not in (options or {}))}")
            records = _read_jsonl(self.path / NEEDLES_DIR / "needles.jsonl")
            self.needles = {r["id"]: NeedleRecord.from_json(r) for r in records}
            self.cells = [Cell.from_json(c) for c in _read_jsonl(self.path / CELLS)]
            self.task_cells: dict[str, list[Cell]] = {}
            if (self.path / TASK_CELLS).is_file():
                for c in _read_jsonl(self.path / TASK_CELLS):
                    cell = Cell.from_json(c)
                    self.task_cells.setdefault(cell.task, []).append(cell)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise NiahError(f"dataset '{self.path}' is incomplete or corrupt ({err}): generate it again") from None

    @property
    def tasks(self) -> list[str]:
        """The tasks the dataset was generated for (datasets made before --tasks: the retrieval tasks)."""
        return list(self.options.get("tasks", RETRIEVAL_TASKS))

    @property
    def options(self) -> dict:
        return self.manifest["options"]

    @cached_property
    def manifest_hash(self) -> str:
        """sha256 of manifest.json: identifies the dataset's content (it lists every file's hash)."""
        return sha256_file(self.path / MANIFEST)

    @property
    def all_cells(self) -> list[Cell]:
        """The retrieval cells and every multi-needle task's."""
        return [*self.cells, *(c for cells in self.task_cells.values() for c in cells)]

    @property
    def lengths(self) -> list[int]:
        return sorted({c.length for c in self.all_cells})

    @property
    def depths(self) -> list[int]:
        return sorted({c.depth for c in self.all_cells})

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.options["width"], self.options["height"]

    def needle(self, cell: Cell) -> NeedleRecord:
        """The cell's needle with its options in the cell's order (what a sample is asked)."""
        return self.needles[cell.needle].reordered(cell.order)

    def sequence(self, cell: Cell) -> list[FrameRef]:
        """The cell's frames in order: haystack frames 0..L−1 with the insertions in place."""
        return cell_sequence(cell)

    def haystack_frames(self, count: int | None = None) -> Iterator[np.ndarray]:
        """Decode haystack frames 0, 1, ... in order, each once; (H, W, 3) uint8 RGB."""
        return read_frames(self.path / HAYSTACK, count)

    def image(self, ref: FrameRef) -> np.ndarray:
        """Pixels of a needle or distractor frame (cached); haystack frames come from `frames`."""
        if ref.kind == "haystack":
            raise ValueError("haystack frames are decoded in order: use frames() or haystack_frames()")
        return load_png(self.path / NEEDLES_DIR / self.image_name(ref))

    def image_name(self, ref: FrameRef) -> str:
        """The file in needles/ of a needle, same-key or look-alike frame."""
        record = self.needles[ref.needle]
        if ref.kind == "needle":
            return record.image if ref.index == 0 else record.same_key[_same_key_at(record, ref.index - 1)]["image"]
        return record.distractors[ref.index].image

    def frames(self, cell: Cell) -> Iterator[tuple[FrameRef, np.ndarray]]:
        """(ref, pixels) of the cell's frames in order, decoding each haystack frame once."""
        haystack = self.haystack_frames(cell.length)
        for ref in self.sequence(cell):
            yield ref, (next(haystack) if ref.kind == "haystack" else self.image(ref))


def _same_key_at(record: NeedleRecord, option: int) -> int:
    """The position in `record.same_key` of its key beside option `option` (the needle's own order)."""
    return next(j for j, s in enumerate(record.same_key) if s["value"] == option)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
