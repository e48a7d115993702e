"""The backend interface: the engine hands a backend samples, it returns one result per sample.

A backend may reorder the samples it is given (the transformers backend groups samples that
share a haystack prefix), must yield exactly one `SampleResult` per sample, and reports a
sample it could not run (e.g. out of memory) as failed rather than raising; the engine records
it and retries it on resume.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from niah.data.dataset import Dataset, FrameRef
from niah.data.grid import Cell
from niah.errors import NiahError
from niah.rope import RopeVariant
from niah.tasks import Outcome, Query, Task

if TYPE_CHECKING:
    from niah.answer_attention import FrameAttention


@dataclass(frozen=True)
class Sample:
    """One (task, variant, cell) to run and the query its task asks; its `key` identifies it in
    results.jsonl. Backends read `query`, never the needle."""

    task: Task
    variant: RopeVariant
    cell: Cell
    query: Query

    @property
    def key(self) -> str:
        return f"{self.task.name}|{self.variant.spec}|{self.cell.id}"

    def frames(self, dataset: Dataset) -> list[FrameRef]:
        return list(self.query.frames)


@dataclass
class SampleResult:
    """What a backend returns for a sample: one `Outcome` per metric it computed (`outcomes`, by
    name), backend-specific numbers (`scores`), and `error` when it failed."""

    sample: Sample
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    attention: FrameAttention | None = None  # attention at the answer, when the run records it (--attention)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def metric(self) -> str | None:
        """The task's primary metric among those computed (what `correct` holds), None when failed."""
        return self.sample.task.primary(list(self.outcomes)) if self.outcomes else None

    @property
    def prediction(self) -> str:
        return self.outcomes[self.metric].prediction if self.outcomes else ""

    @property
    def correct(self) -> bool:
        return bool(self.outcomes[self.metric].correct) if self.outcomes else False


class Backend(abc.ABC):
    """A model (or probe) that answers samples. `name` is the model as written in results."""

    name: str
    marks: dict[str, Any] = {}  # extra fields written on every result, e.g. {"random_weights": True}
    attention: str | None = None  # what results carry of attention at the answer (record_attention)

    def record_attention(self, mode: str) -> None:
        """Give every result its attention at the answer (`mode`: niah.sweep.attention.MODES);
        NiahError where this backend has no attention to record."""
        raise NiahError(f"{self.name} has no attention at the answer to record: --attention needs an hf: or tiny: "
                        "model")  # fmt: skip

    def config(self) -> dict[str, Any]:
        """Options that change results (written to run.json and compared on resume)."""
        return {}

    def estimate_tokens(self, dataset: Dataset, sample: Sample) -> int:
        """Tokens of the sample's prompt (for --dry-run and progress)."""
        return 0

    def estimate_cost(self, dataset: Dataset, sample: Sample) -> float:
        """Relative compute of the sample, to split a plan into shards of equal work (default: its
        prompt tokens, at least 1)."""
        return float(max(1, self.estimate_tokens(dataset, sample)))

    def prefill_spans(self, dataset: Dataset, samples: Sequence[Sample]) -> list[tuple[int, int]]:
        """(prompt tokens reused from a cache, prompt tokens) per sample run in this order
        (default: nothing reused)."""
        return [(0, self.estimate_tokens(dataset, s)) for s in samples]

    def memory_plan(self, longest_tokens: int) -> list[str]:
        """Lines for --dry-run on the memory the longest prompt needs (default: none)."""
        return []

    def check_variants(self, variants: Sequence[RopeVariant]) -> None:  # noqa: B027 (optional hook)
        """Raise NiahError for a variant this backend cannot run (default: it runs any)."""

    def check_plan(self, dataset: Dataset, samples: Sequence[Sample]) -> None:  # noqa: B027 (optional hook)
        """Warn (NiahWarning) where this backend shows the plan's samples otherwise than the model
        natively would, or raise NiahError where it cannot run them (default: nothing to say)."""

    def skip_reason(self, query: Query) -> str | None:
        """Why this backend cannot answer a query (its sample is left out of the plan), or None."""
        return None

    def order(self, samples: Sequence[Sample]) -> list[Sample]:
        """The order to run the samples in (default: as given)."""
        return list(samples)

    @abc.abstractmethod
    def run(self, samples: Sequence[Sample], dataset: Dataset) -> Iterator[SampleResult]:
        """Yield one result per sample, in any order."""
