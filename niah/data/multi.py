"""Multi-needle tasks' cells: ordering, counting, multi-key and distance, built at generation (task_cells.jsonl).

Each task is one registration (`MULTI_TASKS`): how it places needles in a (length, depth) cell and
what it asks. A cell's needle is its *anchor* (the grid's needle); the other needles it shows are
drawn from the dataset's set among those whose key object differs from every key the cell already
names, so each find clause is satisfied by its own needle's frames only (haystack frames never draw a
key shape). Needles need a known key (built-in needles; a user's file must give `key`).

Units: slots as in niah.data.grid (an insertion goes before haystack frame `slot`, 0..L).

- ``ordering`` (ORDER_NEEDLES = 3 needles, 4 options among the 6 orders): "In which order do they
  appear?". The second axis is the group's place: the group spans GROUP_SPAN of the haystack (at
  least one frame between needles) and depth d puts its first needle at d % of the room left, so
  depth 0 starts the group at the first frame and depth 100 ends it at the last. The question lists
  the needles in an order drawn independently of where they sit.
- ``ordering-d``: ordering with V-NIAH-D's look-alikes: each needle gets one look-alike (an image of
  its own whose key is none of the three named) the dataset's distractor period before or after it
  (a side drawn where both fit; none where neither does). Lures: the options equal to the order a
  model gets by taking one look-alike for its needle.
- ``counting`` (COUNT_FRAMES = 6 inserted frames): the anchor needle's image in c of them (c = 0
  to 5) and its look-alikes (keys that fail the find clause) in the others, so the number of odd
  frames says nothing; "How many frames show a red star?", four consecutive counts as options with
  the answer at a balanced place. The six frames sit at evenly spaced slots of a group placed by
  depth as for ordering. Lure: the count a model gets by matching the key's colour or its shape
  alone, where that is another option.
- ``multi-key`` (MULTI_KEY_FRAMES = 3 frames): the anchor's key object beside three of its four
  option values (the needle's image and `same_key` images, each drawn on the needle's background);
  "Find the frames with a red star. Each answers: What colour is the square beside it? Which three
  answers do they give?"; the options are the four sets of three values (each misses one, so every
  wrong set swaps one value), written in the needle's option order, not in order of appearance.
  The second axis is the group's place, as for ordering.
- ``distance`` (2 needles): the second axis is the distance in percent of the haystack: needles
  before haystack frames s and s + round(d · L / 100), s drawn uniformly where both fit; "Which
  appears first?", the two needles as options (the answer's letter balanced).

Answer letters are balanced as in niah.data.generate.grid_cells: the k-th cell of needle i shows
its answer as option (i + k) mod options.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from niah.data.dataset import NeedleRecord
from niah.data.grid import Asked, Cell, Insertion
from niah.errors import NiahError

ORDER_NEEDLES = 3  # needles an ordering item shows: 3! = 6 orders, 4 of them as options
COUNT_FRAMES = 6  # inserted frames of a counting item: the key in c of them, look-alikes in the rest
COUNT_OPTIONS = 4  # consecutive counts offered
GROUP_SPAN = 0.25  # the fraction of the haystack a group of needles spans
ORDER_OPTIONS = 4  # options of an ordering item: the answer and 3 of the 5 other orders
MULTI_KEY_FRAMES = 3  # frames of a multi-key item: 3 of the needle's 4 option values beside its key


@dataclass(frozen=True)
class CellSpec:
    """What a multi-task builder gets for one cell: the grid point, the anchor needle (`index` in
    the set), every needle of the set, the answer's balanced option place and the cell's generator."""

    length: int
    depth: int
    index: int
    needles: list[NeedleRecord]
    place: int
    rng: np.random.Generator
    period: int = 0  # the dataset's distractor period (frames): where ordering-d puts look-alikes

    @property
    def anchor(self) -> NeedleRecord:
        return self.needles[self.index]


@dataclass(frozen=True)
class MultiTask:
    """A multi-needle task: `axis` says what the grid's depth means for it (recorded in the
    manifest; figures label their second axis with it); `build` makes one cell."""

    name: str
    axis: str
    build: Callable[[CellSpec], Cell]
    options: int  # options per item: answer places are balanced over this many
    lure_rate: bool = False  # its look-alikes make specific wrong options (Asked.lures): a lure rate is measured


MULTI_TASKS: dict[str, MultiTask] = {}


def register_multi(task: MultiTask) -> MultiTask:
    MULTI_TASKS[task.name] = task
    return task


def key_phrase(key: str) -> str:
    """'red star' → 'a red star' (the key as a find clause names it)."""
    return f"{'an' if key[0] in 'aeiou' else 'a'} {key}"


def listed(keys: list[str]) -> str:
    """'a red star, a blue cross and a green diamond': keys as a question names them."""
    phrases = [key_phrase(k) for k in keys]
    return ", ".join(phrases[:-1]) + f" and {phrases[-1]}"


def ordering_question(keys: list[str]) -> str:
    return f"Find the frames with {listed(keys)}. In which order do they appear?"


def distance_question(keys: list[str]) -> str:
    return f"Find the frames with {listed(keys)}. Which appears first?"


def named_keys(question: str) -> list[str]:
    """The key objects a multi-needle question names, in its order ('a red star' → 'red star')."""
    return re.findall(r"\ban? ([a-z]+ [a-z]+)(?=,| and|\.|\?)", question.split(".")[0] + ".")


def order_label(question: str, option: str) -> str | None:
    """An ordering or distance option as the order of the question's named keys: 'order:201' is the
    third named, then the first, then the second; a distance option names the one that comes first
    ('the blue cross' with two keys named). None when the option is no such order."""
    named = named_keys(question)
    if option.startswith("the ") and len(named) == 2 and option[4:] in named:
        order = [option[4:], *(k for k in named if k != option[4:])]
    else:
        order = option.split(", ")
    if len(named) < 2 or sorted(order) != sorted(named):
        return None
    return "order:" + "".join(str(named.index(k)) for k in order)


def order_labels(count: int) -> list[str]:
    """Every order label of `count` named keys ('order:01', 'order:10' for two)."""
    return ["order:" + "".join(map(str, p)) for p in itertools.permutations(range(count))]


def group_slots(length: int, depth: int, count: int) -> list[int]:
    """`count` evenly spaced slots spanning GROUP_SPAN of the haystack (at least one slot apart),
    the first at depth % of the room the span leaves: depth 0 starts at slot 0, 100 ends at L."""
    span = max(count - 1, round(GROUP_SPAN * length))
    start = depth / 100 * (length - span)
    return [round(start + j * span / (count - 1)) for j in range(count)]


def other_needles(spec: CellSpec, count: int) -> list[NeedleRecord]:
    """The anchor and `count` − 1 needles of the set drawn with keys unlike every key chosen so far."""
    chosen = [spec.anchor]
    pool = [n for k, n in enumerate(spec.needles) if k != spec.index]
    for k in spec.rng.permutation(len(pool)):
        if len(chosen) == count:
            break
        if pool[k].key not in {n.key for n in chosen}:
            chosen.append(pool[k])
    if len(chosen) < count:
        raise NiahError(f"this task needs {count} needles with different key objects; the set has "
                        f"{len({n.key for n in spec.needles})}: generate with more --needles-per-cell")  # fmt: skip
    return chosen


def _options_with(answer: str, others: list[str], place: int, rng: np.random.Generator, size: int) -> list[str]:
    """`size` options: the answer at `place` and `size` − 1 of `others` drawn in a drawn order."""
    wrong = [others[int(k)] for k in rng.permutation(len(others))[: size - 1]]
    return wrong[:place] + [answer] + wrong[place:]


def _cell(task: str, spec: CellSpec, placed: list[tuple[int, str, NeedleRecord, int]], asked: Asked) -> Cell:
    """The cell of `placed` (slot, kind, needle, image) insertions, in sequence order."""
    placed = sorted(placed, key=lambda p: p[0])  # stable: frames of one slot keep their drawn order
    insertions = tuple(Insertion(kind, slot, slot + n, image, -1, needle.id)
                       for n, (slot, kind, needle, image) in enumerate(placed))  # fmt: skip
    return Cell(f"{task}-L{spec.length}-d{spec.depth}-{spec.anchor.id}", spec.length, spec.depth, spec.anchor.id,
                insertions, (), task, asked)  # fmt: skip


def _ordering(spec: CellSpec, lookalikes: bool = False) -> Cell:
    needles = other_needles(spec, ORDER_NEEDLES)
    shown = [needles[int(k)] for k in spec.rng.permutation(ORDER_NEEDLES)]  # order of appearance
    names = [needles[int(k)] for k in spec.rng.permutation(ORDER_NEEDLES)]  # order the question names them
    text = [", ".join(p.key for p in order) for order in itertools.permutations(names)]
    answer = ", ".join(n.key for n in shown)
    options = _options_with(answer, [t for t in text if t != answer], spec.place, spec.rng, ORDER_OPTIONS)
    question = ordering_question([n.key for n in names])
    slots = group_slots(spec.length, spec.depth, ORDER_NEEDLES)
    placed = [(slot, "needle", n, 0) for slot, n in zip(slots, shown, strict=True)]
    lures: set[int] = set()
    if lookalikes:
        keys = {n.key for n in needles}
        for slot, needle in zip(slots, shown, strict=True):
            fits = [s for s in (slot - spec.period, slot + spec.period) if 0 <= s <= spec.length and spec.period]
            looks = [j for j, d in enumerate(needle.distractors) if d.key and d.key not in keys]
            if not fits or not looks:
                continue
            at = fits[int(spec.rng.integers(len(fits)))]
            placed.append((at, "distractor", needle, looks[int(spec.rng.integers(len(looks)))]))
            # the order read by taking the look-alike for its needle (a look-alike follows its slot's needles)
            taken = sorted((at, 1, j, n) if n is needle else (s, 0, j, n)
                           for j, (s, n) in enumerate(zip(slots, shown, strict=True)))  # fmt: skip
            confused = ", ".join(n.key for *_, n in taken)
            lures |= {k for k, o in enumerate(options) if o == confused and o != answer}
    return _cell("ordering-d" if lookalikes else "ordering", spec, placed,
                 Asked(question, tuple(options), spec.place, tuple(sorted(lures))))  # fmt: skip


def _ordering_d(spec: CellSpec) -> Cell:
    return _ordering(spec, lookalikes=True)


def _counting(spec: CellSpec) -> Cell:
    needle = spec.anchor
    low = int(spec.rng.integers(0, COUNT_FRAMES - COUNT_OPTIONS + 1))  # the first option: 0, 1 or 2
    count = low + spec.place
    looks = [j for j, d in enumerate(needle.distractors) if d.key and d.key != needle.key]
    if len(looks) < COUNT_FRAMES:
        raise NiahError(f"counting needs {COUNT_FRAMES} look-alikes with known keys per needle; {needle.id} has "
                        f"{len(looks)}")  # fmt: skip
    shown: list[int | None] = [None] * count  # None: the needle's image; j: look-alike j
    shown += [looks[int(k)] for k in spec.rng.permutation(len(looks))[: COUNT_FRAMES - count]]
    shown = [shown[int(k)] for k in spec.rng.permutation(COUNT_FRAMES)]
    slots = group_slots(spec.length, spec.depth, COUNT_FRAMES)
    placed = [(slot, "needle", needle, 0) if j is None else (slot, "distractor", needle, j)
              for slot, j in zip(slots, shown, strict=True)]  # fmt: skip
    colour, shape = needle.key.split(" ", 1)
    half = sum(1 for j in shown if j is not None and {colour, shape} & set(needle.distractors[j].key.split()))
    options = tuple(str(low + k) for k in range(COUNT_OPTIONS))
    lures = tuple(k for k, o in enumerate(options) if half and o == str(count + half))
    question = f"How many frames show {key_phrase(needle.key)}?"
    return _cell("counting", spec, placed, Asked(question, options, spec.place, lures))


def _multi_key(spec: CellSpec) -> Cell:
    needle = spec.anchor
    if len(needle.same_key) != len(needle.options) - 1 or len(needle.options) != MULTI_KEY_FRAMES + 1:
        raise NiahError(f"multi-key needs each needle's key drawn beside every option ({needle.id} has "
                        f"{len(needle.same_key)} such images, {len(needle.options)} options): built-in needles only")
    missing = [int(k) for k in spec.rng.permutation(len(needle.options))]  # option place p misses missing[p]
    left_out = missing[spec.place]
    shown = [o for o in range(len(needle.options)) if o != left_out]
    shown = [shown[int(k)] for k in spec.rng.permutation(len(shown))]  # order of appearance
    options = tuple(", ".join(needle.options[o] for o in range(len(needle.options)) if o != m) for m in missing)
    question = (f"Find the frames with {key_phrase(needle.key)}. Each answers: {needle.ask} "
                "Which three answers do they give?")
    slots = group_slots(spec.length, spec.depth, MULTI_KEY_FRAMES)
    placed = [(slot, "needle", needle, 0 if o == needle.answer else 1 + o)
              for slot, o in zip(slots, shown, strict=True)]  # fmt: skip
    return _cell("multi-key", spec, placed, Asked(question, options, spec.place))


def _distance(spec: CellSpec) -> Cell:
    first, second = other_needles(spec, 2)
    if spec.rng.random() < 0.5:
        first, second = second, first
    gap = round(spec.depth * spec.length / 100)
    start = int(spec.rng.integers(0, spec.length - gap + 1))
    names = (first, second) if spec.place == 0 else (second, first)
    options = tuple(f"the {n.key}" for n in names)
    question = distance_question([n.key for n in names])
    placed = [(start, "needle", first, 0), (start + gap, "needle", second, 0)]
    return _cell("distance", spec, placed, Asked(question, options, spec.place))


register_multi(MultiTask("ordering", "group place (%)", _ordering, ORDER_OPTIONS))
register_multi(MultiTask("ordering-d", "group place (%)", _ordering_d, ORDER_OPTIONS, lure_rate=True))
register_multi(MultiTask("counting", "group place (%)", _counting, COUNT_OPTIONS, lure_rate=True))
register_multi(MultiTask("multi-key", "group place (%)", _multi_key, 4))
register_multi(MultiTask("distance", "distance (% of length)", _distance, 2))


def multi_cells(task: str, seed: int, lengths: list[int], depths: list[int], needles: list[NeedleRecord],
                period: int = 0) -> list[Cell]:  # fmt: skip
    """Every (length, depth, anchor needle) cell of a multi-needle task, lengths outer, depths inner."""
    if any(n.key is None for n in needles):
        raise NiahError(f"task {task} needs needles whose key object is known (built-in needles, or a needle file "
                        "with a key per needle)")  # fmt: skip
    t = MULTI_TASKS[task]
    cells = []
    for a, length in enumerate(lengths):
        for b, depth in enumerate(depths):
            for i in range(len(needles)):
                rng = np.random.default_rng([seed, 7919, list(MULTI_TASKS).index(task), length, depth, i])
                place = (i + a * len(depths) + b) % t.options
                cells.append(t.build(CellSpec(length, depth, i, needles, place, rng, period)))
    return cells
