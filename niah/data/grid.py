"""The benchmark grid (haystack lengths × needle depths × needles) and where insertions go.

Units: a length L counts haystack frames; a depth is a percentage 0–100; an insertion slot k
means "inserted before haystack frame k" (k = L appends after the last frame), so insertions add
frames and never replace one.

- needle: slot q = round(depth · L / 100) (Python's round: halves to even);
- V-NIAH-D look-alikes (`DISTRACTOR_MODES`, period P in frames):
  - `periodic` (default): slots q ± k·P, k = 1, 2, ..., both sides as far as the haystack goes
    (0..L): a look-alike exactly one period from the needle at every depth, as VideoRoPE derives
    its period from the wavelength of M-RoPE's temporal band;
  - `grid`: the absolute grid P, 2P, ... up to L − 1 (niah ≤ 0.x's periodic mode), skipping q;
  - `single`: VideoRoPE's released rule (Wiselnn570/VideoRoPE@7712ca3,
    vision_niah_d/eval_vision_niah_interrupt.py lines 430–441, with its cycle = P): none where
    q − P ≤ 0 and q + P ≥ L; after the needle (slot q + P) where q < P; before it (slot q − P)
    where q + P ≥ L; otherwise before or after with probability 1/2 each, drawn from the cell's
    seeded generator (the slot records the side).

Look-alike images are used round by round (see niah.data.families.lookalike_design): the nearest
slots take round 0 (the 3 lures), the next ones round 1, ...; the order within a round is drawn
per cell, so every option value, key shape and key colour is shown equally often (±1) by the
needle and its look-alikes together, and which look-alikes of a partial round a cell shows is
random. A look-alike that shows the answer is a *decoy* (kind "decoy"): it fails the find clause,
so a model that retrieves it is right by luck, and it never counts as a lure.

In the cell's frame sequence an inserted frame goes before the haystack frame of its slot; the
sequence index of each insertion is recorded so tools can find it without recomputing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from niah.errors import NiahError, unknown

LOOKALIKE_KINDS = ("distractor", "decoy")  # insertion kinds of look-alikes: shows a lure / shows the answer
FIRST_ROUND = 3  # look-alikes in round 0 (the needle is its 4th frame); later rounds hold 4


MAX_VALUES = 1_000_000
"""The most values a --lengths or --depths range may hold: no grid holds more cells than that."""


def parse_int_list(text: str, what: str) -> list[int]:
    """'1,2,5' or 'start:stop:step' (stop included when the step lands on it) → sorted unique ints;
    a range of more than MAX_VALUES values is refused before it is built."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0:
                raise ValueError
            start, stop, step = parts
            values: range | list[int] = range(start, stop + 1, step)
        else:
            values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise NiahError(
            f"bad {what} '{text}': write a list like 16,32,64 or start:stop:step like 200:3000:200"
        ) from None
    if len(values) > MAX_VALUES:  # a range's length is known before it is built
        raise NiahError(f"bad {what} '{text}': {len(values):,} values: at most {MAX_VALUES:,}")
    if not values:
        raise NiahError(f"bad {what} '{text}': no values")
    return sorted(set(values))


def check_grid(lengths: list[int], depths: list[int]) -> None:
    """Lengths at least 1 frame; depths within 0–100 percent."""
    if min(lengths) < 1:
        raise NiahError(f"haystack lengths must be at least 1 frame, got {min(lengths)}")
    bad = [d for d in depths if not 0 <= d <= 100]
    if bad:
        raise NiahError(f"depth {bad[0]} is outside 0–100: depths are percentages of the haystack length")


@dataclass(frozen=True)
class Insertion:
    """An inserted frame: `slot` (before haystack frame slot), its `index` in the cell sequence."""

    kind: str  # "needle", "distractor" (a look-alike showing a lure) or "decoy" (a look-alike showing the answer)
    slot: int
    index: int
    image: int  # 0 for the needle (1 + option: its key beside that option, multi-key); a look-alike's number
    answer: int  # option index this image shows (-1: not known, or a task whose frames show no option)
    needle: str = ""  # the needle whose image it is; "": the cell's (multi-needle tasks name theirs)


@dataclass(frozen=True)
class Asked:
    """The question a multi-needle task's cell asks (niah.data.multi): the question text, the
    options in letter order, the right option's index, and the option indices a model that takes
    a look-alike for a needle gives (`lures`; empty: none)."""

    question: str
    options: tuple[str, ...]
    answer: int
    lures: tuple[int, ...] = ()


@dataclass(frozen=True)
class Cell:
    """One (length, depth, needle) sample of the grid with its insertions, in sequence order.

    `order[k]` is the needle's option shown as the k-th option (letter) in this cell, so answer
    letters are balanced over a dataset's cells; the insertions' `answer` fields count in this
    order. Empty: the needle's own order (datasets made before cells had one)."""

    id: str
    length: int
    depth: int
    needle: str
    insertions: tuple[Insertion, ...]
    order: tuple[int, ...] = ()
    task: str = ""  # "": a retrieval cell (v-niah, v-niah-d); else the multi-needle task it was built for
    asked: Asked | None = None  # a multi-needle task's question; None: the needle's own

    @property
    def needle_index(self) -> int:
        """The sequence index of the (first) needle frame; −1 where none is shown (a count of 0)."""
        return next((i.index for i in self.insertions if i.kind == "needle"), -1)

    @property
    def num_frames(self) -> int:
        return self.length + len(self.insertions)

    def as_json(self) -> dict:
        d = asdict(self)
        d["needle_index"] = self.needle_index
        d["distractor_indices"] = [i.index for i in self.insertions if i.kind == "distractor"]
        d["decoy_indices"] = [i.index for i in self.insertions if i.kind == "decoy"]
        if not self.task:  # retrieval cells are written as before multi-needle tasks existed
            del d["task"], d["asked"]
            for i in d["insertions"]:
                del i["needle"]
        return d

    @classmethod
    def from_json(cls, d: dict) -> Cell:
        asked = d.get("asked")
        return cls(d["id"], d["length"], d["depth"], d["needle"], tuple(Insertion(**i) for i in d["insertions"]),
                   tuple(d.get("order", ())), d.get("task", ""),
                   None if asked is None else Asked(asked["question"], tuple(asked["options"]), asked["answer"],
                                                    tuple(asked.get("lures", ()))))  # fmt: skip


def option_order(answer: int, options: int, position: int, rng: np.random.Generator) -> tuple[int, ...]:
    """An order of `options` options that shows option `answer` at `position` (0 = A) and the
    others in an order drawn from `rng`."""
    others = [j for j in range(options) if j != answer]
    others = [others[int(k)] for k in rng.permutation(len(others))]
    return tuple(others[:position] + [answer] + others[position:])


def needle_slot(length: int, depth: int) -> int:
    """The haystack frame the needle goes before: round(depth · L / 100), in 0..L."""
    return round(depth * length / 100)


SlotRule = Callable[[int, int, int, np.random.Generator], list[int]]
"""rule(length L, needle slot q, period P, cell generator) → look-alike slots, nearest first."""


def _periodic(length: int, slot: int, period: int, rng: np.random.Generator) -> list[int]:
    reach = max(slot, length - slot) // period
    return [k for step in range(1, reach + 1) for k in (slot - step * period, slot + step * period) if 0 <= k <= length]


def _grid(length: int, slot: int, period: int, rng: np.random.Generator) -> list[int]:
    return sorted((k for k in range(period, length, period) if k != slot), key=lambda k: (abs(k - slot), k))


def _single(length: int, slot: int, period: int, rng: np.random.Generator) -> list[int]:
    before = bool(rng.random() < 0.5)  # drawn whatever the branch: the cell's later draws never depend on it
    if slot - period <= 0 and slot + period >= length:
        return []
    if slot < period:
        return [slot + period]
    if slot + period >= length:
        return [slot - period]
    return [slot - period] if before else [slot + period]


DISTRACTOR_MODES: dict[str, SlotRule] = {"periodic": _periodic, "grid": _grid, "single": _single}


def distractor_slots(length: int, slot: int, period: int, mode: str, rng: np.random.Generator) -> list[int]:
    """Slots of a cell's look-alikes, nearest first (see the module docstring)."""
    if period < 1:
        raise NiahError(f"distractor period must be at least 1 frame, got {period}")
    if mode not in DISTRACTOR_MODES:
        raise unknown("distractor mode", mode, DISTRACTOR_MODES)
    return DISTRACTOR_MODES[mode](length, slot, period, rng)


def lookalike_order(count: int, images: int, rng: np.random.Generator) -> list[int]:
    """Which of a needle's `images` look-alike images fill `count` slots, nearest slot first:
    rounds of the list in turn (the first FIRST_ROUND, then blocks of 4), each shuffled. After
    the whole list it goes on with the full rounds only (round 0 is the needle's and it is not
    repeated), so every later pass stays balanced too; a list that is one round (a user's three
    lures) is repeated as it is."""
    bounds = [0, *range(min(FIRST_ROUND, images), images, 4), images]
    rounds = [list(range(lo, hi)) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    order: list[int] = []
    while len(order) < count:
        for members in rounds if not order or len(rounds) == 1 else rounds[1:]:
            order += [members[int(j)] for j in rng.permutation(len(members))]
    return order[:count]


def make_cell(length: int, depth: int, needle_id: str, answer: int, shows: list[int | None], period: int,
              mode: str, rng: np.random.Generator, order: tuple[int, ...] = ()) -> Cell:  # fmt: skip
    """The cell for one (length, depth, needle), insertions sorted into sequence order.

    `answer` and `shows[j]` (the option look-alike image j shows; None: not known) are indices
    into the needle's options; an image that shows `answer` is inserted as a decoy. `order` is the
    cell's option order (see Cell; empty: the needle's own), in which insertions record what they
    show. `rng` is the cell's own seeded generator (the order within rounds, single mode's side)."""
    shown_as = order.index if order else (lambda j: j)
    slot = needle_slot(length, depth)
    raw = [("needle", slot, 0, shown_as(answer))]
    if shows:
        slots = distractor_slots(length, slot, period, mode, rng)
        for k, image in zip(slots, lookalike_order(len(slots), len(shows), rng), strict=True):
            shown = shows[image]
            kind = "decoy" if shown == answer else "distractor"
            raw.append((kind, k, image, -1 if shown is None else shown_as(shown)))
    raw.sort(key=lambda r: (r[1], r[0] != "needle"))
    insertions = tuple(Insertion(kind, k, k + n, image, ans) for n, (kind, k, image, ans) in enumerate(raw))
    return Cell(f"L{length}-d{depth}-{needle_id}", length, depth, needle_id, insertions, tuple(order))


def cell_rng(seed: int, length: int, depth: int, needle: int) -> np.random.Generator:
    """The seeded generator of one cell of a dataset (`needle`: the needle's position in the set)."""
    return np.random.default_rng([seed, 5381, length, depth, needle])
