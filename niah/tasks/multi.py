"""Ordering, counting and distance: multi-needle tasks over the cells `niah generate --tasks` built
for them (niah.data.multi places the needles and words the question; this module only reads).

Their frames show no option each (the answer is a relation between frames), so `Query.shows` marks
every inserted frame UNKNOWN and a backend that retrieves one frame (the probe) skips them. The tasks
with look-alikes measure a lure rate (niah.data.multi.MultiTask.lure_rate: counting, ordering-d).
"""

from __future__ import annotations

from niah.data.dataset import Dataset
from niah.data.grid import Cell
from niah.data.multi import MULTI_TASKS
from niah.tasks.query import UNKNOWN, Query


def multi_query(dataset: Dataset, cell: Cell) -> Query:
    """The cell's recorded question over its frames, every needle and look-alike in place."""
    asked = cell.asked
    if asked is None:
        raise ValueError(f"cell {cell.id} is a retrieval cell; multi-needle tasks read their own cells")
    frames = tuple(dataset.sequence(cell))
    shows = tuple(None if ref.kind == "haystack" else UNKNOWN for ref in frames)
    measured = cell.task in MULTI_TASKS and MULTI_TASKS[cell.task].lure_rate
    lures = frozenset(asked.lures) if measured else None
    return Query(frames=frames, question=asked.question, options=asked.options, answer=asked.options[asked.answer],
                 shows=shows, lures=lures, family=dataset.needles[cell.needle].family)  # fmt: skip
