"""`niah audit`: blind baselines that must not beat chance on a dataset.

An item is valid when only its find clause identifies the answer. This module runs rules that
never read the find clause — text-only priors, option and key frequencies among the look-alike
frames, low-level frame outliers — on every cell of a dataset and compares each rule's accuracy
with its chance level, per task and haystack length (and over all lengths), with a 95 % interval.

Rules (`RULES`; each returns, per cell, the rule's expected accuracy — ties split evenly — and
the chance level it is compared with):

- text (every task; chance 1 / options): `text:most-common-answer` (the option text most often
  right in the *other* needles' items: leave-one-needle-out, so a prior is learnt, never read
  off the item itself), `text:answer-letter` (the letter most often right in the other needles'
  items), `text:option-not-in-question` (an option whose words the question does not use);
- frequency among look-alikes (V-NIAH-D; the needle, its distractors and decoys): `freq:fewest`
  and `freq:most` (the option shown by the fewest / most of those frames), `freq:rarest-colour`
  and `freq:rarest-shape` (the option shown by the frames whose key colour / shape is rarest).
  Their chance is what a model gets by reading a look-alike picked at random — the share of the
  cell's look-alike frames that show the answer — so a rule passes when frequency tells nothing
  about which look-alike is the needle (with one distractor, as in VideoRoPE's single mode, that
  share is 1/2, not 1/4);
- frame outliers (V-NIAH; chance 1 / frames): `frame:sharpest` (variance of the Laplacian),
  `frame:most-colourful` (Hasler–Süsstrunk), `frame:largest-png` (bytes of the frame as PNG:
  detail and noise), `frame:least-blocky` (the weakest 8×8 block edges: a frame that never went
  through the haystack's video codec).

- multi-needle tasks (chance 1 / options): `order:as-listed` (ordering: the order in which the
  question names the needles), `order:consensus` (ordering: the option agreeing with the others in
  the most places, the tell of distractor options built by swapping the answer's elements),
  `count:middle`, `count:smallest`, `count:largest` (counting: a
  count picked by its place among the four consecutive ones offered; the number of inserted
  frames is constant, so counting odd frames is `count:largest`'s rule at best),
  `multi-key:leaves-out-first` (multi-key: the set without the first value the needle's options
  list; the sets are written in that order), `distance:first-named` (distance: the needle named
  first came first).

Intervals: the exact (Clopper–Pearson) binomial interval at the effective sample size under
clustering by needle (items of one needle are not independent: `effective_sample`). `--strict`
fails a row whose Bonferroni-corrected lower bound (over every row of the table) lies above its
chance level.

Cells.jsonl records every inserted frame with its kind and the option index it shows, and
needles.jsonl each image's key, so every rule can be recomputed without niah.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from niah.data.dataset import RETRIEVAL_TASKS, Dataset, FrameRef, NeedleRecord
from niah.data.grid import LOOKALIKE_KINDS, Cell
from niah.data.multi import MULTI_TASKS, named_keys
from niah.data.needles import LETTERS, image_statistics
from niah.stats import clustered_interval

TASKS = (*RETRIEVAL_TASKS, *MULTI_TASKS)
ALL = "all"  # the length of a row pooled over every length


@dataclass(frozen=True)
class Item:
    """What a rule sees of one (task, cell): the cell, its needle (a multi-needle cell's anchor), the
    question, options and answer index it asks, the dataset's frame statistics."""

    task: str
    cell: Cell
    needle: NeedleRecord
    frames: FrameStats | None
    question: str
    options: list[str]
    answer: int


@dataclass(frozen=True)
class Rule:
    """A blind rule: `score(item, context)` → (expected accuracy, chance), or None where it does not
    apply (e.g. a cell with no look-alikes, an image whose key is not known)."""

    name: str
    tasks: tuple[str, ...]
    description: str
    score: Callable[[Item, Context], tuple[float, float] | None]


@dataclass
class Row:
    """One line of the audit table. Accuracy and chance are fractions; `cells` counts the items,
    `needles` the clusters; `beats_chance` is the corrected verdict of --strict."""

    task: str
    length: int | str
    rule: str
    accuracy: float
    chance: float
    ci_low: float
    ci_high: float
    cells: int
    needles: int
    beats_chance: bool = False

    def as_json(self) -> dict:
        return asdict(self)


RULES: dict[str, Rule] = {}


def register_rule(rule: Rule) -> Rule:
    """Add a rule to the registry (a plugin file can call this too)."""
    RULES[rule.name] = rule
    return rule


# ---------------------------------------------------------------------------- text-only priors


class Context:
    """Task-wide facts the text rules learn from: how often each answer text and each answer letter
    is right in a task's items (its options in the cell's order), so that a rule can use the counts
    of every needle but the one it answers."""

    def __init__(self, asked: Iterable[Item]):
        self.counts: dict[str, Counter] = defaultdict(Counter)  # needle id -> its items' answer texts and letters
        for item in asked:
            self.counts[item.needle.id].update([("text", item.options[item.answer]), ("letter", LETTERS[item.answer])])
        self.total = sum(self.counts.values(), Counter())

    def others(self, needle: str, what: str, value: str) -> int:
        """How often `value` (a text or letter) is the answer in the items of every needle but `needle`."""
        return self.total[(what, value)] - self.counts[needle][(what, value)]


def _pick(candidates: list[int], answer: int) -> float:
    """The expected accuracy of a uniform pick among `candidates` (option indices)."""
    return candidates.count(answer) / len(candidates) if candidates else 0.0


def _best(options: list[str], weight: Callable[[int], float]) -> list[int]:
    best = max(weight(i) for i in range(len(options)))
    return [i for i in range(len(options)) if weight(i) == best]


def _most_common_answer(item: Item, ctx: Context) -> tuple[float, float] | None:
    options, nid = item.options, item.needle.id
    if len(options) < 2:
        return None
    return _pick(_best(options, lambda i: ctx.others(nid, "text", options[i])), item.answer), 1 / len(options)


def _answer_letter(item: Item, ctx: Context) -> tuple[float, float] | None:
    options, nid = item.options, item.needle.id
    if len(options) < 2:
        return None
    return _pick(_best(options, lambda i: ctx.others(nid, "letter", LETTERS[i])), item.answer), 1 / len(options)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _not_in_question(item: Item, ctx: Context) -> tuple[float, float] | None:
    options = item.options
    if len(options) < 2:
        return None
    asked = _words(item.question)
    unused = [i for i, o in enumerate(options) if not _words(o) & asked]
    return _pick(unused or list(range(len(options))), item.answer), 1 / len(options)


# ------------------------------------------------------------------- multi-needle tasks' priors


def _as_listed(item: Item, ctx: Context) -> tuple[float, float] | None:
    """Ordering: the option that lists the needles in the order the question names them."""
    listed = ", ".join(named_keys(item.question))
    same = [i for i, o in enumerate(item.options) if o == listed]
    return _pick(same or list(range(len(item.options))), item.answer), 1 / len(item.options)


def _consensus(item: Item, ctx: Context) -> tuple[float, float] | None:
    """Ordering: the option that agrees with the other options in the most places."""
    orders = [o.split(", ") for o in item.options]

    def agreement(i: int) -> float:
        return sum(a == b for j, other in enumerate(orders) if j != i for a, b in zip(orders[i], other, strict=False))

    return _pick(_best(item.options, agreement), item.answer), 1 / len(item.options)


def _leaves_out_first(item: Item, ctx: Context) -> tuple[float, float] | None:
    """Multi-key: the set without the needle's first-listed option value."""
    first = item.needle.options[0]
    return _pick([i for i, o in enumerate(item.options) if first not in o.split(", ")], item.answer), 0.25


def _middle_count(item: Item, ctx: Context) -> tuple[float, float] | None:
    """Counting: one of the two middle options of the four consecutive counts."""
    middle = len(item.options) // 2
    return _pick([middle - 1, middle], item.answer), 1 / len(item.options)


def _extreme_count(largest: bool) -> Callable[[Item, Context], tuple[float, float] | None]:
    def score(item: Item, ctx: Context) -> tuple[float, float] | None:
        counts = [int(o) for o in item.options]
        return _pick([counts.index((max if largest else min)(counts))], item.answer), 1 / len(item.options)

    return score


def _first_named(item: Item, ctx: Context) -> tuple[float, float] | None:
    """Distance: the needle the question names first appears first."""
    first = named_keys(item.question)[0]
    return _pick([i for i, o in enumerate(item.options) if o.endswith(first)], item.answer), 1 / len(item.options)


# ------------------------------------------------------------------- frequency among look-alikes


def _lookalikes(item: Item) -> list[tuple[int, str | None]] | None:
    """(option shown, key) of the needle and each look-alike of the cell; None when the cell has no
    look-alike or one shows an option that is not known."""
    cell, n = item.cell, item.needle
    shown = [(i.answer, n.key if i.kind == "needle" else n.distractors[i.image].key)
             for i in cell.insertions if i.kind == "needle" or i.kind in LOOKALIKE_KINDS]  # fmt: skip
    if len(shown) < 2 or any(value < 0 for value, _ in shown):
        return None
    return shown


def _random_lookalike(shown: list[tuple[int, str | None]], answer: int) -> float:
    return sum(value == answer for value, _ in shown) / len(shown)


def _by_count(fewest: bool) -> Callable[[Item, Context], tuple[float, float] | None]:
    def score(item: Item, ctx: Context) -> tuple[float, float] | None:
        shown = _lookalikes(item)
        if shown is None:
            return None
        counts = Counter(value for value, _ in shown)
        target = (min if fewest else max)(counts.values())
        return _pick([v for v, c in counts.items() if c == target], item.needle.answer), _random_lookalike(
            shown, item.needle.answer
        )

    return score


def _by_rare_key(part: int) -> Callable[[Item, Context], tuple[float, float] | None]:
    """The option shown by the look-alike frames whose key colour (part 0) or shape (part 1) is rarest."""

    def score(item: Item, ctx: Context) -> tuple[float, float] | None:
        shown = _lookalikes(item)
        if shown is None or any(key is None for _, key in shown):
            return None
        attribute = [key.split(" ", 1)[part] for _, key in shown]  # type: ignore[union-attr]
        counts = Counter(attribute)
        rarest = min(counts.values())
        values = [value for (value, _), a in zip(shown, attribute, strict=True) if counts[a] == rarest]
        return _pick(values, item.needle.answer), _random_lookalike(shown, item.needle.answer)

    return score


# ------------------------------------------------------------------------- low-level frame outliers

STATISTICS = ("sharpness", "colourfulness", "png_bytes", "blockiness")


def frame_statistics(image: np.ndarray) -> tuple[float, float, float, float]:
    """(Laplacian variance, colourfulness, PNG bytes, 8×8 block-edge ratio) of an RGB frame (H, W, 3)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    _, colourful, sharp = image_statistics(image)
    size = float(len(cv2.imencode(".png", image)[1]))
    step = np.abs(np.diff(grey.astype(np.float64), axis=1))  # (H, W-1): |x[i+1] - x[i]|
    edges = step[:, 7::8].mean() if step.shape[1] > 8 else 0.0
    blocky = float(edges / (step.mean() + 1e-9))
    return sharp, colourful, size, blocky


class FrameStats:
    """Frame statistics of a dataset: haystack frames (n, 4) in order, and each inserted image's."""

    def __init__(self, dataset: Dataset, progress: Callable[[int, int], None] | None = None):
        self.dataset = dataset
        count = max(dataset.lengths, default=0)
        rows = []
        for k, frame in enumerate(dataset.haystack_frames(count)):
            rows.append(frame_statistics(frame))
            if progress and ((k + 1) % 100 == 0 or k + 1 == count):
                progress(k + 1, count)
        self.haystack = np.array(rows, dtype=np.float64).reshape(-1, len(STATISTICS))
        self.prefix_max = np.maximum.accumulate(self.haystack, axis=0) if len(rows) else self.haystack
        self.prefix_min = np.minimum.accumulate(self.haystack, axis=0) if len(rows) else self.haystack
        self._images: dict[str, tuple[float, ...]] = {}

    def image(self, ref: FrameRef) -> tuple[float, ...]:
        if ref.key not in self._images:
            self._images[ref.key] = frame_statistics(self.dataset.image(ref))
        return self._images[ref.key]


def _outlier(column: int, largest: bool) -> Callable[[Item, Context], tuple[float, float] | None]:
    """The needle is picked when its statistic beats every haystack frame of the cell (ties split)."""

    def score(item: Item, ctx: Context) -> tuple[float, float] | None:
        stats, length = item.frames, item.cell.length
        if stats is None:
            return None
        needle = stats.image(FrameRef("needle", 0, item.needle.id))[column]
        chance = 1 / (length + 1)
        if length == 0:
            return 1.0, chance
        extreme = (stats.prefix_max if largest else stats.prefix_min)[length - 1, column]
        column_values = stats.haystack[:length, column]
        if (needle > extreme) if largest else (needle < extreme):
            return 1.0, chance
        if needle == extreme:
            return 1 / (1 + int((column_values == extreme).sum())), chance
        return 0.0, chance

    return score


for _rule in (
    Rule("text:most-common-answer", TASKS, "the option text most often right in the other needles' items",
         _most_common_answer),
    Rule("text:answer-letter", TASKS, "the letter most often right in the other needles' items", _answer_letter),
    Rule("text:option-not-in-question", TASKS, "an option whose words the question does not use", _not_in_question),
    Rule("freq:fewest", ("v-niah-d",), "the option shown by the fewest look-alike frames", _by_count(True)),
    Rule("freq:most", ("v-niah-d",), "the option shown by the most look-alike frames", _by_count(False)),
    Rule("freq:rarest-colour", ("v-niah-d",), "the option shown by the look-alikes of the rarest key colour",
         _by_rare_key(0)),
    Rule("freq:rarest-shape", ("v-niah-d",), "the option shown by the look-alikes of the rarest key shape",
         _by_rare_key(1)),
    Rule("frame:sharpest", ("v-niah",), "the frame with the largest variance of the Laplacian", _outlier(0, True)),
    Rule("frame:most-colourful", ("v-niah",), "the most colourful frame (Hasler-Süsstrunk)", _outlier(1, True)),
    Rule("frame:largest-png", ("v-niah",), "the frame with the most PNG bytes", _outlier(2, True)),
    Rule("frame:least-blocky", ("v-niah",), "the frame with the weakest 8x8 block edges", _outlier(3, False)),
    Rule("order:as-listed", ("ordering", "ordering-d"), "the order in which the question names the needles",
         _as_listed),
    Rule("order:consensus", ("ordering", "ordering-d"),
         "the option that agrees with the other options in the most places", _consensus),
    Rule("count:middle", ("counting",), "one of the two middle counts offered", _middle_count),
    Rule("count:smallest", ("counting",), "the smallest count offered", _extreme_count(False)),
    Rule("count:largest", ("counting",), "the largest count offered (the number of odd frames is constant)",
         _extreme_count(True)),
    Rule("multi-key:leaves-out-first", ("multi-key",), "the set without the needle's first-listed value",
         _leaves_out_first),
    Rule("distance:first-named", ("distance",), "the needle the question names first", _first_named),
):  # fmt: skip
    register_rule(_rule)


# ----------------------------------------------------------------------------------- intervals


def items(dataset: Dataset, frames: FrameStats | None) -> Iterator[Item]:
    """Every (task, cell) the dataset holds: both retrieval tasks on its cells, each multi-needle
    task on its own."""
    for task in RETRIEVAL_TASKS:
        for cell in dataset.cells:
            n = dataset.needle(cell)
            yield Item(task, cell, n, frames, n.question, n.options, n.answer)
    for task, cells in dataset.task_cells.items():
        for cell in cells:
            a = cell.asked
            yield Item(task, cell, dataset.needles[cell.needle], frames, a.question, list(a.options), a.answer)


def audit(dataset: Dataset, frames: bool = True, level: float = 0.95,
          progress: Callable[[int, int], None] | None = None) -> list[Row]:  # fmt: skip
    """Every rule on every (task, cell) of `dataset`, as rows per task × length × rule (length
    ALL pools the lengths), each with a `level` interval; `beats_chance` marks rows whose
    Bonferroni-corrected lower bound (over all rows) exceeds chance. `frames=False` skips the
    frame rules (they decode the haystack)."""
    stats = FrameStats(dataset, progress) if frames else None
    by_task: dict[str, list[Item]] = defaultdict(list)
    for item in items(dataset, stats):
        by_task[item.task].append(item)
    contexts = {task: Context(asked) for task, asked in by_task.items()}
    scored: dict[tuple[str, str], list[tuple[int, str, float, float]]] = defaultdict(list)
    for item in (item for asked in by_task.values() for item in asked):
        ctx = contexts[item.task]
        for rule in RULES.values():
            if item.task in rule.tasks and (result := rule.score(item, ctx)) is not None:
                scored[(item.task, rule.name)].append((item.cell.length, item.needle.id, *result))
    groups: list[tuple[str, int | str, str, list[tuple[int, str, float, float]]]] = []
    for (task, rule), records in scored.items():
        for length in sorted({r[0] for r in records}):
            groups.append((task, length, rule, [r for r in records if r[0] == length]))
        groups.append((task, ALL, rule, records))
    alpha, alpha_strict = 1 - level, (1 - level) / max(1, len(groups))
    rows = []
    for task, length, rule, records in groups:
        values = np.array([r[2] for r in records])
        clusters = [r[1] for r in records]
        low, high = clustered_interval(values, clusters, alpha)
        strict_low, _ = clustered_interval(values, clusters, alpha_strict)
        chance = float(np.mean([r[3] for r in records]))
        rows.append(Row(task, length, rule, float(values.mean()), chance, low, high, len(records), len(set(clusters)),
                        bool(strict_low > chance + 1e-12)))  # fmt: skip
    order = {name: i for i, name in enumerate(RULES)}
    rank = {task: i for i, task in enumerate(TASKS)}
    rows.sort(key=lambda r: (rank.get(r.task, len(rank)), order[r.rule], r.length == ALL,
                             r.length if r.length != ALL else 0))  # fmt: skip
    return rows


def verdict(rows: list[Row]) -> str:
    """One line: how many rules were checked, which beat chance, which could not be applied."""
    bad = [r for r in rows if r.beats_chance]
    present = {r.task for r in rows}  # rules of tasks the dataset has no cells for are not "missing"
    used = {r.rule for r in rows}
    missing = sorted(name for name, rule in RULES.items() if set(rule.tasks) & present and name not in used)
    unused = f"; not applicable here: {', '.join(missing)}" if missing else ""
    if not bad:
        return f"audit: no blind rule beats chance ({len(rows)} rows of {len(used)} rules{unused})"
    worst = max(bad, key=lambda r: r.ci_low - r.chance)
    names = sorted({r.rule for r in bad})
    return (f"audit: {len(bad)} of {len(rows)} rows beat chance ({', '.join(names)}); worst {worst.rule} on "
            f"{worst.task} at {worst.length} frames: {worst.accuracy:.2f} [{worst.ci_low:.2f}, {worst.ci_high:.2f}] "
            f"vs chance {worst.chance:.2f}{unused}")  # fmt: skip


def table(rows: list[Row], everything: bool = False) -> str:
    """The audit as text: rows pooled over lengths, then (with `everything`, or where a rule beats
    chance) the rows per length."""
    lines = [f"{'task':9} {'length':>6}  {'rule':28} {'accuracy':>8} {'95% interval':>14} {'chance':>6}  verdict"]
    for r in rows:
        if r.length != ALL and not (everything or r.beats_chance):
            continue
        mark = "BEATS CHANCE" if r.beats_chance else "ok"
        lines.append(f"{r.task:9} {r.length!s:>6}  {r.rule:28} {r.accuracy:8.2f} [{r.ci_low:4.2f}, {r.ci_high:4.2f}]"
                     f"   {r.chance:6.2f}  {mark}")  # fmt: skip
    return "\n".join(lines)
