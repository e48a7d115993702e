"""Tasks: which insertions of a cell a sample sees. The same cells serve both tasks.

- ``v-niah``   (LongVA): the needle alone in the haystack; the distractors are ignored.
- ``v-niah-d`` (VideoRoPE): the needle plus the cell's look-alike distractors.
"""

from __future__ import annotations

from dataclasses import dataclass

from niah.data.dataset import Dataset, FrameRef
from niah.data.grid import Cell
from niah.data.needles import LETTERS
from niah.errors import unknown


@dataclass(frozen=True)
class Task:
    name: str
    with_distractors: bool
    description: str


TASKS: dict[str, Task] = {
    "v-niah": Task("v-niah", False, "needle in the haystack (LongVA)"),
    "v-niah-d": Task("v-niah-d", True, "needle plus periodic look-alike distractors (VideoRoPE)"),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name]


def task_sequence(dataset: Dataset, cell: Cell, task: Task) -> list[FrameRef]:
    """The frames a sample of `task` on `cell` sees, in order."""
    refs = dataset.sequence(cell)
    return refs if task.with_distractors else [r for r in refs if r.kind != "distractor"]


def lure_letters(cell: Cell, task: Task) -> set[str] | None:
    """The option letters the cell's distractors show in a sample of `task`: a prediction among
    them means the model was lured. None for a task without distractors (lure rate undefined)."""
    if not task.with_distractors:
        return None
    return {LETTERS[i.answer] for i in cell.insertions if i.kind == "distractor" and i.answer >= 0}
