"""The plan of a run: the samples (task × variant × cell) in a canonical order, subsets and shards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from niah.backends.base import Sample
from niah.data.dataset import Dataset
from niah.errors import NiahError
from niah.rope import RopeVariant
from niah.tasks import Task


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`: a contiguous block of the plan in the backend's run
    order, so that samples sharing a haystack prefix stay on the same rank."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        if not text:
            return cls()
        try:
            i, n = (int(v) for v in text.split("/"))
        except ValueError:
            raise NiahError(f"bad shard '{text}': write I/N, e.g. 1/4") from None
        if not 1 <= i <= n:
            raise NiahError(f"bad shard '{text}': need 1 <= I <= N")
        return cls(i, n)

    def select(self, samples: Sequence[Sample], costs: Sequence[float] | None = None) -> list[Sample]:
        """This shard's contiguous block of `samples`: equal counts, or with `costs` equal work (a
        sample goes to the block its cost's midpoint falls in, on the running total)."""
        if costs is None:
            n = len(samples)
            return list(samples[(self.index - 1) * n // self.count : self.index * n // self.count])
        total, running, block = sum(costs), 0.0, []
        for sample, cost in zip(samples, costs, strict=True):
            if (self.index - 1) * total <= (running + cost / 2) * self.count < self.index * total:
                block.append(sample)
            running += cost
        return block

    @property
    def suffix(self) -> str:
        return "" if self.count == 1 else f".{self.index}-of-{self.count}"


def make_plan(dataset: Dataset, tasks: Sequence[Task], variants: Sequence[RopeVariant],
              lengths: Sequence[int] | None = None, depths: Sequence[int] | None = None,
              limit: int | None = None) -> list[Sample]:  # fmt: skip
    """Every sample in canonical order: variant, task, length, needle, depth.

    `lengths`/`depths` must be in the dataset; `limit` keeps the first N cells of each task in that order;
    a multi-needle task runs on its own cells (niah.tasks.Task.cells).
    """
    for name, asked, have in (("length", lengths, dataset.lengths), ("depth", depths, dataset.depths)):
        missing = sorted(set(asked or []) - set(have))
        if missing:
            raise NiahError(f"{name} {missing[0]} is not in the dataset (it has {', '.join(map(str, have))})")
    chosen = {}
    for t in tasks:
        cells = [c for c in t.cells(dataset)
                 if (not lengths or c.length in lengths) and (not depths or c.depth in depths)]  # fmt: skip
        cells.sort(key=lambda c: (c.length, c.needle, c.depth))
        chosen[t.name] = [(c, t.query(dataset, c)) for c in cells[:limit]]
    return [Sample(t, v, c, query) for v in variants for t in tasks for c, query in chosen[t.name]]
