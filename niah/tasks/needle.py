"""V-NIAH (LongVA) and V-NIAH-D (VideoRoPE): one needle's question over a cell's video.

- ``v-niah``:   the needle alone in the haystack; the cell's look-alikes are left out.
- ``v-niah-d``: the needle plus the cell's look-alikes (lures and decoys); the lure rate counts
  predictions of a look-alike's wrong option.
"""

from __future__ import annotations

from niah.data.dataset import Dataset
from niah.data.grid import Cell
from niah.tasks.query import UNKNOWN, Query


def needle_query(dataset: Dataset, cell: Cell, lookalikes: bool) -> Query:
    """The cell's needle question over its haystack with the needle, and with `lookalikes` its
    look-alikes, in place (options in the cell's order)."""
    needle = dataset.needle(cell)
    shown = {i.index: i.answer for i in cell.insertions}  # sequence index → option index (−1: not known)
    frames, shows = [], []
    for k, ref in enumerate(dataset.sequence(cell)):
        if ref.kind == "distractor" and not lookalikes:
            continue
        frames.append(ref)
        shows.append(None if ref.kind == "haystack" else UNKNOWN if shown[k] < 0 else shown[k])
    is_open = len(needle.options) <= 1
    lures = frozenset(i.answer for i in cell.insertions if i.kind == "distractor" and i.answer >= 0)
    return Query(frames=tuple(frames), question=needle.question,
                 options=() if is_open else tuple(needle.options), answer=needle.options[needle.answer],
                 shows=tuple(shows), lures=lures if lookalikes else None, family=needle.family)  # fmt: skip


def v_niah(dataset: Dataset, cell: Cell) -> Query:
    return needle_query(dataset, cell, lookalikes=False)


def v_niah_d(dataset: Dataset, cell: Cell) -> Query:
    return needle_query(dataset, cell, lookalikes=True)
