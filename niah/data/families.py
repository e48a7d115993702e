"""Built-in needle families: a registry of procedural needles whose question only the needle answers.

Every built-in needle shows a **key object** — a shape the synthetic haystack never draws (star,
triangle, cross, diamond) in a named colour — and a **value** beside it. The question is a find
clause naming the key ("Find the frame with a red star.") and an ask clause reading the value
("What colour is the square beside it?"). Each look-alike fails the find clause — its key has
another shape, another colour or both — and shows a value (the design of VideoRoPE's own needle
set, arXiv 2502.05173): a **lure** (a wrong option a fooled model gives) or, for a **decoy**, the
answer itself, so that no option value, key shape or key colour is shown more or less often by the
look-alike frames than by the needle (see `lookalike_design`):

- ``near``:  the same background and layout as the needle, another key — the hardest look-alike;
- ``scene``: another background (a related scene without the key object), another key.

A family is one registration: its ask clause, how it draws 4 options, how it draws a value, and
whether a model without OCR can perceive it (niah train's tiny models read colour, shape, count
and position, not digits or words). The `position` family has no value object: its answer is the
part of the frame the key is in, so a look-alike shows its value by where its key is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from niah.data.draw import COLOURS, KEY_SHAPES, VALUE_SHAPES, Drawn, draw_dots, draw_shape, draw_sign, sign_width
from niah.data.synthetic import FOCUS_BLUR, camera_blur
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
    clashes: Callable[[Key, str], bool] = lambda key, option: False  # a pairing no image may show


NEEDLE_FAMILIES: dict[str, NeedleFamily] = {}


def register_family(family: NeedleFamily) -> NeedleFamily:
    """Add a family to the registry (a plugin file can call this too)."""
    NEEDLE_FAMILIES[family.name] = family
    return family


def get_family(name: str) -> NeedleFamily:
    if name not in NEEDLE_FAMILIES:
        raise unknown("needle family", name, NEEDLE_FAMILIES)
    return NEEDLE_FAMILIES[name]


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
    clashes=lambda key, option: option == key.colour,  # never a square in its own key's colour, needle or not
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


LOOKALIKES = 15  # look-alike images per needle: the 4 × 4 key grid less the needle's own key


@dataclass
class Rendered:
    """A needle as drawn: the needle image and its look-alikes, each with what its renderer drew.

    `shows[j]` is the option index look-alike j shows: a lure (a wrong option) or, for a *decoy*,
    the answer. Look-alikes come in rounds of 4 frames (round 0 is the needle and 3 lures): each
    round shows every option value, every key shape and every key colour once, so any prefix of
    the list, with the needle, shows each of them equally often (±1)."""

    key: Key
    options: list[str]
    answer: int
    image: np.ndarray
    drawn: list[Drawn]
    distractors: list[np.ndarray]
    distractor_drawn: list[list[Drawn]]
    shows: list[int]
    kind: str
    same_key: list[tuple[int, np.ndarray]]  # (option index, image): the needle's key beside each other option


def lookalike_design(
    rng: np.random.Generator,
    key: Key,
    answer: int,
    count: int = LOOKALIKES,
    forbidden: Callable[[Key, int], bool] = lambda key, value: False,
) -> list[tuple[Key, int]]:
    """The (key, option index) of `count` look-alikes of the needle whose key is `key`.

    Four key shapes S0..S3 (S0 the needle's) and four key colours C0..C3 (C0 the needle's) form
    rounds r = 0..3 of the keys (S_i, C_(i+r) mod 4), i = 0..3: each round holds every shape and
    every colour once, and (S0, C0) — the only key that satisfies the find clause — appears only in
    round 0, as the needle. Values: round 0 gives its 3 look-alikes the 3 wrong options; each later
    round one permutation of all 4 options, so the answer's value is also shown by *decoys* (a key
    that fails the find clause beside the answer's value). `forbidden(key, value)` rejects a
    pairing (the colour family: a square in its own key's colour); values are redrawn until none
    is."""
    shapes = [key.shape, *(KEY_SHAPES[i] for i in rng.permutation(len(KEY_SHAPES)) if KEY_SHAPES[i] != key.shape)]
    others = [KEY_COLOURS[i] for i in rng.permutation(len(KEY_COLOURS)) if KEY_COLOURS[i] != key.colour]
    colours = [key.colour, *others[:3]]
    wrong = [j for j in range(4) if j != answer]
    rounds: list[list[tuple[Key, int]]] = []
    for r in range(4):
        keys = [Key(shapes[i], colours[(i + r) % 4]) for i in range(4)]
        if r == 0:
            keys = keys[1:]
        for _ in range(1000):
            values = [wrong[i] for i in rng.permutation(3)] if r == 0 else [int(v) for v in rng.permutation(4)]
            if not any(forbidden(k, v) for k, v in zip(keys, values, strict=True)):
                break
        else:
            raise ValueError(f"no value order avoids the forbidden pairings for key {key}")
        rounds.append(list(zip(keys, values, strict=True)))
    design = [pair for rnd in rounds for pair in rnd]
    return design[:count]


def render(family: NeedleFamily, rng: np.random.Generator, answer: int, kind: str,
           background: Callable[[int], np.ndarray], width: int, height: int,
           count: int = LOOKALIKES, blur: np.ndarray | None = None) -> Rendered:  # fmt: skip
    """Draw one needle of `family` with its answer at option index `answer` and `count` (at most
    15) look-alikes of `kind` laid out by `lookalike_design`. `background(j)` gives the (height,
    width, 3) background: j = 0 for the needle (and the near look-alikes), j = 1 + i for scene
    look-alike i. `blur[j]` is image j's camera blur in pixels (default: drawn from `rng` in
    FOCUS_BLUR); a near look-alike gets the needle's.

    The key, options, layout and look-alike design are drawn from `rng` before anything that
    depends on `kind`, so the same generator state gives the same needle for both kinds."""
    if kind not in DISTRACTOR_KINDS:
        raise unknown("distractor kind", kind, DISTRACTOR_KINDS)
    if not 0 <= count <= LOOKALIKES:
        raise ValueError(f"a needle has at most {LOOKALIKES} look-alikes, asked for {count}")
    key = Key(KEY_SHAPES[rng.integers(len(KEY_SHAPES))], KEY_COLOURS[rng.integers(len(KEY_COLOURS))])
    options = family.options(rng, key)
    options = [options[i] for i in rng.permutation(len(options))]
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
    design = lookalike_design(rng, key, answer, count, lambda k, v: family.clashes(k, options[v]))
    if blur is None:
        blur = rng.uniform(*FOCUS_BLUR, 1 + count)  # each image's camera blur (px), as haystack frames get

    def draw(j: int, look: Key, option: int) -> tuple[np.ndarray, list[Drawn]]:
        """Image j (0: the needle, 1 + i: look-alike i) with the key `look` beside option `option`."""
        image = (background(0) if kind == "near" else background(j)).copy()
        drawn = [draw_shape(image, look.shape, key_at[options[option]], r, look.colour)]
        if family.value is not None:
            drawn.append(family.value(image, value_at, r, options[option]))
        return camera_blur(image, blur[0 if kind == "near" else j]), drawn  # a near look-alike: the needle's blur

    image, drawn = draw(0, key, answer)
    distractors, distractor_drawn = [], []
    for j, (look, shown) in enumerate(design):
        d_image, d_drawn = draw(1 + j, look, shown)
        distractors.append(d_image)
        distractor_drawn.append(d_drawn)
    same_key = [(o, draw(0, key, o)[0]) for o in range(len(options)) if o != answer]  # draws nothing from rng
    return Rendered(key, options, answer, image, drawn, distractors, distractor_drawn, [v for _, v in design], kind,
                    same_key)  # fmt: skip
