"""VideoRoPE++'s V-RULER items read as they are (Wiselnn570/VideoRoPE@7712ca3 videorope_plus/v_ruler/data/).

`counting.json`, `ordering.json` and `multi_key_multi_value.json` hold whole items, not needles: a
JSON list of {"path": images (a JSON list, or a Python-list string as in multi_key_multi_value.json),
"prompt": question, "A. ..." option lines and instructions, "answer": letter}. Each item becomes one
cell per (length, depth) of its task (ordering, counting, multi-key: from --tasks, else from the
file's name), its images inserted in the order listed at niah's group slots (niah.data.multi), so
depth moves them: V-RULER's own evaluation puts them at linspace(0, frames - 1, k) whatever the
depth, and every depth row of its heatmaps is the same input (said in a warning at generate).

An item's images are stored as one needle record `vr<NNN>`: its first image as the needle's, the
others as its `same_key` images with value j (the j-th image, frame ref index 1 + j); a count of
0 has no image (a blank placeholder that is never inserted). An item whose prompt lists its options
twice (the first multi-key item does) is ambiguous and is skipped with a warning naming it.
"""

from __future__ import annotations

import ast
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from niah.data.grid import Asked, Cell, Insertion
from niah.data.images import read_image
from niah.data.multi import group_slots
from niah.data.needles import LETTERS, Needle
from niah.errors import NiahError, NiahWarning

FILE_TASKS = {"ordering": "ordering", "counting": "counting", "multi_key_multi_value": "multi-key"}
"""V-RULER file name (stem) → niah task."""
INSTRUCTION = "Answer with the option's letter"


@dataclass(frozen=True)
class Item:
    """One V-RULER item: its image files (in order), question, options and the answer's index."""

    images: tuple[Path, ...]
    question: str
    options: tuple[str, ...]
    answer: int


def is_vruler(records: list[dict]) -> bool:
    """Whether parsed JSON records are V-RULER items (every `path` a list or a Python-list string)."""
    def listed(p: object) -> bool:
        return isinstance(p, list) or (isinstance(p, str) and p.strip().startswith("["))

    return bool(records) and all(isinstance(r, dict) and listed(r.get("path")) and "prompt" in r for r in records)


def file_task(path: Path, asked: list[str]) -> str:
    """The niah task a V-RULER file's items are: the one task `asked` (--tasks as given), else the
    file name's. Any other --tasks is refused: the file's items are of one task, and a retrieval
    task has no single needle to ask about in them."""
    if asked:
        if len(asked) != 1 or asked[0] not in FILE_TASKS.values():
            raise NiahError(f"'{path}' holds V-RULER items, all of one task: give --tasks with one of ordering, "
                            f"counting or multi-key, not {','.join(asked)}")  # fmt: skip
        return asked[0]
    if path.stem in FILE_TASKS:
        return FILE_TASKS[path.stem]
    raise NiahError(f"'{path}' holds V-RULER items: name their task with --tasks ordering, counting or multi-key")


def parse_prompt(prompt: str, where: str) -> tuple[str, list[str]] | None:
    """(question, options) of a V-RULER prompt; None when it lists its options twice."""
    question, options, letters = [], [], []
    for line in prompt.splitlines():
        text = line.strip()
        if not text or text.startswith(INSTRUCTION):
            continue
        letter, dot, rest = text.partition(".")
        if dot and len(letter) == 1 and letter in LETTERS:
            letters.append(letter)
            options.append(rest.strip())
        else:
            question.append(text)
    if len(set(letters)) != len(letters):
        return None
    if letters != list(LETTERS[: len(letters)]) or len(options) < 2:
        raise NiahError(f"{where}: options must be lines 'A. ...', 'B. ...' in order, got {letters}")
    return " ".join(question), options


def read_items(path: Path, records: list[dict]) -> list[Item]:
    """The file's items; skipped ones are named in a NiahWarning."""
    items, skipped = [], []
    for n, rec in enumerate(records, 1):
        where = f"{path.name} item {n}"
        raw = rec["path"]
        try:
            files = ast.literal_eval(raw) if isinstance(raw, str) else raw
        except (ValueError, SyntaxError):
            raise NiahError(f"{where}: 'path' is neither a list nor a Python-list string: {raw[:60]!r}") from None
        parsed = parse_prompt(str(rec["prompt"]), where)
        if parsed is None:
            skipped.append(n)
            continue
        question, options = parsed
        answer = str(rec.get("answer", "")).strip()
        if answer not in LETTERS[: len(options)]:
            raise NiahError(f"{where}: answer {answer!r} is not one of the option letters {LETTERS[: len(options)]}")
        images = tuple(_image(path.parent, str(f), where) for f in files)
        items.append(Item(images, question, tuple(options), LETTERS.index(answer)))
    if skipped:
        warnings.warn(NiahWarning(f"{path.name}: skipped item(s) {', '.join(map(str, skipped))}: the prompt lists its "
                                  "options twice, so the answer letter is ambiguous"), stacklevel=2)  # fmt: skip
    if not items:
        raise NiahError(f"'{path}' holds no usable V-RULER item")
    return items


def _image(base: Path, name: str, where: str) -> Path:
    for candidate in (base / name, base / "images" / name, base.parent / "images" / name):
        if candidate.is_file():
            return candidate
    raise NiahError(f"{where}: image '{name}' not found beside the file or in images/")


def item_needles(items: list[Item], width: int, height: int) -> list[Needle]:
    """One needle record per item, holding its images (see the module docstring)."""
    needles = []
    for n, item in enumerate(items):
        frames = [read_image(p, width, height, "V-RULER image") for p in item.images]
        first = frames[0] if frames else np.zeros((height, width, 3), np.uint8)
        needles.append(Needle(f"vr{n:03d}", "user", "", item.question, list(item.options), item.answer, first,
                              same_key=[(j, img) for j, img in enumerate(frames) if j]))  # fmt: skip
    return needles


def item_cells(task: str, items: list[Item], lengths: list[int], depths: list[int]) -> list[Cell]:
    """Every (length, depth, item) cell: the item's images at the group slots of its depth, in order."""
    cells = []
    for length in lengths:
        for depth in depths:
            for n, item in enumerate(items):
                slots = group_slots(length, depth, len(item.images)) if len(item.images) > 1 else (
                    [round(depth * length / 100)] * len(item.images))  # fmt: skip
                insertions = tuple(Insertion("needle", slot, slot + j, 0 if j == 0 else 1 + j, -1, f"vr{n:03d}")
                                   for j, slot in enumerate(slots))  # fmt: skip
                cells.append(Cell(f"{task}-L{length}-d{depth}-vr{n:03d}", length, depth, f"vr{n:03d}", insertions,
                                  (), task, Asked(item.question, item.options, item.answer)))  # fmt: skip
    return cells


def load_records(path: Path) -> list[dict]:
    """A JSON array file's records (V-RULER's files are JSON arrays)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return data if isinstance(data, list) else []
