"""Built-in needle families: a registry of procedural needles whose question only the needle answers.

Every built-in needle shows a **key object** — a shape the synthetic haystack never draws (star,
triangle, cross, diamond) in a named colour — and a **value** beside it. The question is a find
clause naming the key ("Find the frame with a red star.") and an ask clause reading the value
("What colour is the square beside it?"). Each distractor fails the find clause and shows a
**lure**, one of the wrong options (the design of VideoRoPE's own needle set, arXiv 2502.05173):

- ``near``:  the same background and layout, the key's colour changed (a blue star), the value
  showing the lure — the hardest look-alike;
- ``scene``: another background with no key object, a circle in the key's colour where the key
  was (a related scene), the value showing the lure.

A family is one registration: its ask clause, how it draws 4 options, how it draws a value, and
whether a model without OCR can perceive it (niah train's tiny models read colour, shape, count
and position, not digits or words). The `position` family has no value object: its answer is the
part of the frame the key is in, so its distractors move the key (near) or the decoy (scene).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from niah.data.draw import COLOURS, KEY_SHAPES, VALUE_SHAPES, Drawn, draw_dots, draw_shape, draw_sign, sign_width
from niah.errors import unknown

KEY_COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
DISTRACTOR_KINDS = ("near", "scene")
QUADRANTS = {"top left": (0.25, 0.25), "top right": (0.75, 0.25), "bottom left": (0.25, 0.75),
             "bottom right": (0.75, 0.75)}  # fmt: skip
WORDS = ("apple", "river", "piano", "tiger", "cloud", "lemon", "rocket", "garden", "candle", "mirror")
KEY_RADIUS = 0.17  # key and value size, as a fraction of the frame height
MIN_GAP_PX = 30  # between key and value: more than one 28-px token, so no token sees both

ValueDrawer = Callable[[np.ndarray, tuple[float, float], float, str], Drawn]
"""draw(image, centre (x, y) px, radius px, option) → what it drew, in place."""


@dataclass(frozen=True)
class Key:
    """What the find clause names: a shape in a named colour."""

    shape: str
    colour: str

    @property
    def find(self) -> str:
        article = "an" if self.colour[0] in "aeiou" else "a"
        return f"Find the frame with {article} {self.colour} {self.shape}."

    def matches(self, drawn: Drawn) -> bool:
        return drawn.kind == self.shape and drawn.colour == self.colour

    def satisfied_by(self, drawn: list[Drawn]) -> bool:
        """Whether an image whose renderer drew `drawn` satisfies the find clause."""
        return any(self.matches(d) for d in drawn)


@dataclass(frozen=True)
class NeedleFamily:
    """One needle family. `options(rng, key)` gives 4 distinct option texts; `value` draws one
    (None: the answer is where the key is, see QUADRANTS); `value_width(options, r)` is the widest
    value in pixels."""

    name: str
    ask: str
    options: Callable[[np.random.Generator, Key], list[str]]
    value: ValueDrawer | None
    perceivable: bool
    value_width: Callable[[list[str], float], float] = lambda options, r: 2 * r


FAMILIES: dict[str, NeedleFamily] = {}


def register_family(family: NeedleFamily) -> NeedleFamily:
    """Add a family to the registry (a plugin file can call this too)."""
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> NeedleFamily:
    if name not in FAMILIES:
        raise unknown("needle family", name, FAMILIES)
    return FAMILIES[name]


def _pick(rng: np.random.Generator, pool: list[str], n: int = 4) -> list[str]:
    return [pool[i] for i in rng.choice(len(pool), n, replace=False)]


def _counts(rng: np.random.Generator) -> list[str]:
    """Four consecutive dot counts starting at 1, 2 or 3."""
    first = int(rng.integers(1, 4))
    return [str(v) for v in range(first, first + 4)]


def _sign_value(image: np.ndarray, centre: tuple[float, float], r: float, option: str) -> Drawn:
    return draw_sign(image, option, centre, 1.1 * r)


register_family(NeedleFamily(
    "colour", "What colour is the square beside it?",
    lambda rng, key: _pick(rng, [c for c in COLOURS if c != key.colour]),
    lambda image, centre, r, option: draw_shape(image, "square", centre, r, option),
    perceivable=True,
))  # fmt: skip
register_family(NeedleFamily(
    "shape", "Which shape is drawn beside it?",
    lambda rng, key: _pick(rng, list(VALUE_SHAPES)),
    lambda image, centre, r, option: draw_shape(image, option, centre, r, "white"),
    perceivable=True,
))  # fmt: skip
register_family(NeedleFamily(
    "count", "How many dots are beside it?",
    lambda rng, key: _counts(rng),
    lambda image, centre, r, option: draw_dots(image, int(option), centre, r),
    perceivable=True,
))  # fmt: skip
register_family(NeedleFamily(
    "position", "In which part of the frame is it?",
    lambda rng, key: list(QUADRANTS),
    None,
    perceivable=True,
))  # fmt: skip
register_family(NeedleFamily(
    "number", "What number is written on the sign beside it?",
    lambda rng, key: [str(v) for v in rng.choice(np.arange(10, 100), 4, replace=False)],
    _sign_value,
    perceivable=False,
    value_width=lambda options, r: max(sign_width(o, 1.1 * r) for o in options),
))  # fmt: skip
register_family(NeedleFamily(
    "word", "What word is written on the sign beside it?",
    lambda rng, key: _pick(rng, list(WORDS)),
    _sign_value,
    perceivable=False,
    value_width=lambda options, r: max(sign_width(o, 1.1 * r) for o in options),
))  # fmt: skip


@dataclass
class Rendered:
    """A needle as drawn: the needle image and its distractors, each with what its renderer drew.

    `lures[j]` is the option index distractor j shows (never `answer`)."""

    key: Key
    options: list[str]
    answer: int
    image: np.ndarray
    drawn: list[Drawn]
    distractors: list[np.ndarray]
    distractor_drawn: list[list[Drawn]]
    lures: list[int]
    kind: str


def render(family: NeedleFamily, rng: np.random.Generator, answer: int, kind: str,
           background: Callable[[int], np.ndarray], width: int, height: int) -> Rendered:  # fmt: skip
    """Draw one needle of `family` with its answer at option index `answer` and 3 distractors of
    `kind`. `background(j)` gives the (height, width, 3) background: j = 0 for the needle (and the
    near distractors), j = 1, 2, 3 for the scene distractors."""
    if kind not in DISTRACTOR_KINDS:
        raise unknown("distractor kind", kind, DISTRACTOR_KINDS)
    key = Key(KEY_SHAPES[rng.integers(len(KEY_SHAPES))], KEY_COLOURS[rng.integers(len(KEY_COLOURS))])
    options = family.options(rng, key)
    options = [options[i] for i in rng.permutation(len(options))]
    lures = [int(j) for j in rng.permutation([j for j in range(len(options)) if j != answer])]
    near_colours = [KEY_COLOURS[i] for i in rng.permutation(len(KEY_COLOURS)) if KEY_COLOURS[i] != key.colour]
    r = KEY_RADIUS * height
    if family.value is None:
        jitter = rng.uniform(-0.06, 0.06, 2)
        key_at = {o: ((fx + jitter[0]) * width, (fy + jitter[1]) * height) for o, (fx, fy) in QUADRANTS.items()}
        value_at = (0.0, 0.0)
    else:
        half = family.value_width(options, r) / 2
        gap = max(0.5 * r, MIN_GAP_PX)
        span = 2 * r + gap + 2 * half  # key, gap, value
        x0 = rng.uniform(0.05 * width, max(0.05 * width, 0.95 * width - span))
        y = rng.uniform(r + 0.05 * height, 0.95 * height - r)
        right = bool(rng.random() < 0.5)  # value right or left of the key
        key_x, value_x = (x0 + r, x0 + 2 * r + gap + half) if right else (x0 + span - r, x0 + half)
        key_at = {o: (key_x, y) for o in options}
        value_at = (value_x, y)

    def draw(j: int, shape: str, colour: str, option: int) -> tuple[np.ndarray, list[Drawn]]:
        image = background(j).copy()
        drawn = [draw_shape(image, shape, key_at[options[option]], r, colour)]
        if family.value is not None:
            drawn.append(family.value(image, value_at, r, options[option]))
        return image, drawn

    image, drawn = draw(0, key.shape, key.colour, answer)
    distractors, distractor_drawn = [], []
    for j, lure in enumerate(lures):
        if kind == "near":
            d_image, d_drawn = draw(0, key.shape, near_colours[j], lure)
        else:
            d_image, d_drawn = draw(j + 1, "circle", key.colour, lure)
        distractors.append(d_image)
        distractor_drawn.append(d_drawn)
    return Rendered(key, options, answer, image, drawn, distractors, distractor_drawn, lures, kind)
