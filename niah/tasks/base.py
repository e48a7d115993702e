"""A task: a name, what it asks of a cell (`query`), and the metrics it is scored by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from niah.data.dataset import DEPTH_AXIS, Dataset
from niah.data.grid import Cell
from niah.errors import NiahError
from niah.tasks.query import Query


@dataclass(frozen=True)
class Task:
    """`build(dataset, cell)` makes the query of a sample; `metrics` are the names (niah.tasks.metrics)
    it is scored by, its primary first; `own_cells`: it runs on the cells generated for it
    (task_cells.jsonl) rather than the retrieval cells; `axis`: what the grid's depth means for it
    (a figure's second axis)."""

    name: str
    description: str
    build: Callable[[Dataset, Cell], Query]
    metrics: tuple[str, ...]
    own_cells: bool = False
    axis: str = DEPTH_AXIS

    def query(self, dataset: Dataset, cell: Cell) -> Query:
        return self.build(dataset, cell)

    def cells(self, dataset: Dataset) -> list[Cell]:
        """The dataset's cells this task runs on; a multi-needle task the dataset has no cells for is refused."""
        if self.own_cells and self.name not in dataset.task_cells:
            raise NiahError(f"'{dataset.path}' has no {self.name} cells (it was generated with --tasks "
                            f"{','.join(dataset.tasks)}): generate it with --tasks {self.name} added")  # fmt: skip
        return dataset.task_cells[self.name] if self.own_cells else dataset.cells

    def primary(self, available: list[str] | tuple[str, ...]) -> str:
        """The metric `correct` holds: the first of the task's metrics a backend computed, else the
        backend's own first (the probe's, a tiny model's)."""
        return next((m for m in self.metrics if m in available), available[0])
