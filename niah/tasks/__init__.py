"""Tasks: what a sample asks of a cell, and the metrics it is scored by.

Below the backends: a task turns a cell of a dataset (niah.data) into a `Query` — the frames in
order, the question, the options, the answer, which options look-alikes show — and declares its
metrics (niah.tasks.metrics). Backends score queries and never read a needle. Adding a task is
one `register` call with a function that builds its query.
"""

from __future__ import annotations

from niah.data.dataset import Dataset
from niah.data.multi import MULTI_TASKS
from niah.errors import unknown
from niah.tasks.base import Task
from niah.tasks.metrics import METRICS, PAPER_METRICS, Metric, Outcome, get_metric
from niah.tasks.multi import multi_query
from niah.tasks.needle import v_niah, v_niah_d
from niah.tasks.query import Query

TASKS: dict[str, Task] = {}
"""Task name → Task, in registration order (the order of --tasks' help)."""


def register(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name} is registered twice")
    TASKS[task.name] = task
    return task


register(Task("v-niah", "needle in the haystack (LongVA)", v_niah, PAPER_METRICS))
register(Task("v-niah-d", "needle plus periodic look-alikes, lures and decoys (VideoRoPE)", v_niah_d, PAPER_METRICS))
for _name, _description in (
    ("ordering", "3 needles: in which order do they appear"),
    ("ordering-d", "ordering with a look-alike beside each needle (V-NIAH-D's)"),
    ("counting", "a key in 0-5 of 6 inserted frames, look-alikes in the rest: how many"),
    ("multi-key", "one key beside 3 of its 4 values: which set of answers"),
    ("distance", "2 needles a distance apart: which appears first"),
):  # the cells, axis and lure rate of each are niah.data.multi's
    register(Task(_name, _description, multi_query, PAPER_METRICS, own_cells=True, axis=MULTI_TASKS[_name].axis))


def dataset_tasks(dataset: Dataset) -> list[Task]:
    """The registered tasks a dataset was generated for."""
    return [TASKS[n] for n in dataset.tasks if n in TASKS]


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name]


__all__ = ["METRICS", "PAPER_METRICS", "TASKS", "Metric", "Outcome", "Query", "Task", "dataset_tasks", "get_metric",
           "get_task", "register"]  # fmt: skip
