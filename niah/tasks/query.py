"""What a sample asks: the query a task builds from a cell, and all a backend reads of it."""

from __future__ import annotations

from dataclasses import dataclass

from niah.data.dataset import FrameRef
from niah.data.needles import LETTERS

UNKNOWN = -1
"""`Query.shows` of a look-alike whose option is not known (a user's distractor without a lure)."""


@dataclass(frozen=True)
class Query:
    """One sample's question over one video.

    `frames`: the video, in order (haystack frames, the needle, look-alikes); `question`: the
    question alone (find and ask clauses), without options or instruction; `options`: the choices
    in letter order, () for an open question; `answer`: the right option's text, or the open
    answer's word; `shows[k]`: the option index frame k shows (None: it shows none, a haystack
    frame; UNKNOWN: a look-alike whose option is not known); `lures`: the wrong options the
    look-alikes show (None: the task measures no lure rate); `family`: the needle family ("user" for
    a user's needle)."""

    frames: tuple[FrameRef, ...]
    question: str
    options: tuple[str, ...]
    answer: str
    shows: tuple[int | None, ...]
    lures: frozenset[int] | None
    family: str = "user"

    @property
    def is_open(self) -> bool:
        return not self.options

    @property
    def one_frame(self) -> bool:
        """Whether some frame shows an option itself (a retrieval question); False where the answer
        is a relation between frames (ordering, counting, distance)."""
        return any(s is not None and s != UNKNOWN for s in self.shows)

    @property
    def answer_index(self) -> int | None:
        """The answer's option index (None for an open question)."""
        return None if self.is_open else self.options.index(self.answer)

    @property
    def answer_label(self) -> str:
        """What a right prediction reads: the answer's letter, or the open answer itself."""
        return self.answer if self.is_open else LETTERS[self.options.index(self.answer)]

    @property
    def letters(self) -> str:
        """The option letters, "ABCD" for four options ("" for an open question)."""
        return LETTERS[: len(self.options)]

    @property
    def lure_letters(self) -> frozenset[str] | None:
        """The letters of `lures` (a prediction among them was lured), None without a lure rate."""
        return None if self.lures is None else frozenset(LETTERS[i] for i in self.lures)

    def label_of_frame(self, k: int) -> str:
        """The prediction of a rule that picks frame k: its option's letter, "?" for a look-alike whose
        option is not known, "-" for a frame that shows no option."""
        shown = self.shows[k]
        return "-" if shown is None else "?" if shown == UNKNOWN else LETTERS[shown]
