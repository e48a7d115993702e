"""The benchmark grid (haystack lengths × needle depths × needles) and where insertions go.

Units: a length L counts haystack frames; a depth is a percentage 0–100; an insertion slot k
means "inserted before haystack frame k" (k = L appends after the last frame), so insertions add
frames and never replace one.

- needle: slot round(depth · L / 100) (Python's round: halves to even);
- V-NIAH-D distractors, `periodic` mode: slots period, 2·period, … up to L − 1, skipping the
  needle's slot, each with one of the needle's distractor images in turn (VideoRoPE's
  description: similar images at regular intervals);
- `single` mode (VideoRoPE's released code): one distractor `period` frames after the needle, or
  before it when that falls outside the haystack.

In the cell's frame sequence an inserted frame goes before the haystack frame of its slot; the
sequence index of each insertion is recorded so tools can find it without recomputing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from niah.errors import NiahError

DISTRACTOR_MODES = ("periodic", "single")


def parse_int_list(text: str, what: str) -> list[int]:
    """'1,2,5' or 'start:stop:step' (stop included when the step lands on it) → sorted unique ints."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0:
                raise ValueError
            start, stop, step = parts
            values = list(range(start, stop + 1, step))
        else:
            values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise NiahError(
            f"bad {what} '{text}': write a list like 16,32,64 or start:stop:step like 200:3000:200"
        ) from None
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

    kind: str  # "needle" or "distractor"
    slot: int
    index: int
    image: int  # 0 for the needle; the distractor's number for a distractor
    answer: int  # option index this image answers (-1: a distractor whose lure is not known)


@dataclass(frozen=True)
class Cell:
    """One (length, depth, needle) sample of the grid with its insertions, in sequence order."""

    id: str
    length: int
    depth: int
    needle: str
    insertions: tuple[Insertion, ...]

    @property
    def needle_index(self) -> int:
        return next(i.index for i in self.insertions if i.kind == "needle")

    @property
    def num_frames(self) -> int:
        return self.length + len(self.insertions)

    def as_json(self) -> dict:
        d = asdict(self)
        d["needle_index"] = self.needle_index
        d["distractor_indices"] = [i.index for i in self.insertions if i.kind == "distractor"]
        return d

    @classmethod
    def from_json(cls, d: dict) -> Cell:
        return cls(d["id"], d["length"], d["depth"], d["needle"], tuple(Insertion(**i) for i in d["insertions"]))


def needle_slot(length: int, depth: int) -> int:
    """The haystack frame the needle goes before: round(depth · L / 100), in 0..L."""
    return round(depth * length / 100)


def distractor_slots(length: int, slot: int, period: int, mode: str) -> list[int]:
    """Slots of the distractors of a cell (see the module docstring)."""
    if period < 1:
        raise NiahError(f"distractor period must be at least 1 frame, got {period}")
    if mode == "periodic":
        return [k for k in range(period, length, period) if k != slot]
    if mode == "single":
        after, before = slot + period, slot - period
        if after <= length:
            return [after]
        return [before] if before >= 0 else [length if slot < length else 0]
    raise NiahError(f"unknown distractor mode '{mode}': choose {' or '.join(DISTRACTOR_MODES)}")


def make_cell(
    length: int, depth: int, needle_id: str, answer: int, lures: list[int | None], period: int, mode: str
) -> Cell:
    """The cell for one (length, depth, needle), insertions sorted into sequence order.

    `lures[j]` is the option index distractor image j shows (None: not known); the distractors
    are placed in turn, image 0, 1, ..., 0, 1, ..."""
    slot = needle_slot(length, depth)
    raw = [("needle", slot, 0, answer)]
    if lures:
        for j, k in enumerate(distractor_slots(length, slot, period, mode)):
            n = j % len(lures)
            raw.append(("distractor", k, n, -1 if lures[n] is None else lures[n]))
    raw.sort(key=lambda r: (r[1], r[0] != "needle"))
    insertions = tuple(Insertion(kind, k, k + order, image, ans) for order, (kind, k, image, ans) in enumerate(raw))
    return Cell(f"L{length}-d{depth}-{needle_id}", length, depth, needle_id, insertions)
