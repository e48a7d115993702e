"""A task: a name, what it asks of a cell (`query`), and the metrics it is scored by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from niah.data.dataset import Dataset
from niah.data.grid import Cell
from niah.tasks.query import Query


@dataclass(frozen=True)
class Task:
    """`build(dataset, cell)` makes the query of a sample; `metrics` are the names (niah.tasks.metrics)
    it is scored by, its primary first."""

    name: str
    description: str
    build: Callable[[Dataset, Cell], Query]
    metrics: tuple[str, ...]

    def query(self, dataset: Dataset, cell: Cell) -> Query:
        return self.build(dataset, cell)

    def primary(self, available: list[str] | tuple[str, ...]) -> str:
        """The metric `correct` holds: the first of the task's metrics a backend computed, else the
        backend's own first (the probe's, a tiny model's)."""
        return next((m for m in self.metrics if m in available), available[0])
