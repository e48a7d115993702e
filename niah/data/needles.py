"""Needles: an image, a question only it answers, options, the answer, and look-alike distractors.

A needle's question is a **find clause** (what to look for; only the needle satisfies it in the
whole cell) and an **ask clause** (what to read off it). Each distractor is a look-alike that fails
the find clause and shows a **lure**, a wrong option that a model fooled by it gives.

Built-in needles come from the families in niah.data.families, drawn on haystack-like
backgrounds (the first frame of a synthetic scene no haystack uses) so a needle is no outlier by
brightness or colourfulness. The user's own needles are read by niah.data.needle_files.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field

import numpy as np

from niah.data.draw import Box
from niah.data.families import FAMILIES, get_family, render
from niah.data.synthetic import SyntheticHaystack

LETTERS = string.ascii_uppercase  # option letters: A, B, C, ...
NEEDLE_SCENES = 1_000_000  # needle backgrounds come from synthetic scenes at this index and up
SCENES_PER_TRY = 4  # the needle's background and up to 3 scene distractors' backgrounds


@dataclass
class Distractor:
    """A look-alike of a needle. `lure` is the option index it shows (never the answer; None when
    a foreign format does not say); `kind` is near, scene or user; `satisfies_find` is the
    renderer's record of whether it satisfies the needle's find clause (None: not known)."""

    image: np.ndarray
    lure: int | None
    kind: str = "user"
    satisfies_find: bool | None = None


@dataclass
class Needle:
    """One needle. `options` are the answer texts; `answer` is the index of the right one.

    `image` is (H, W, 3) uint8 RGB; `key_box` is (x0, y0, x1, y1) in pixels of what the find clause
    names, `value_box` of what the answer is read from (None: not known, e.g. a user image, or no
    separate value, as in the position family)."""

    id: str
    family: str
    find: str
    ask: str
    options: list[str]
    answer: int
    image: np.ndarray
    distractors: list[Distractor] = field(default_factory=list)
    key_box: Box | None = None
    value_box: Box | None = None

    @property
    def question(self) -> str:
        return f"{self.find} {self.ask}".strip()


def image_statistics(img: np.ndarray) -> tuple[float, float]:
    """(mean luma, Hasler–Süsstrunk colourfulness) of an RGB image: the trivial cues a needle must not stand out by."""
    r, g, b = (img[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return float((0.299 * r + 0.587 * g + 0.114 * b).mean()), float(colourful)


BACKGROUND_TRIES = 40  # backgrounds tried per needle before settling for the last one


def typical_band(seed: int, width: int, height: int, frames: int = 240) -> np.ndarray:
    """The 10th–90th percentile of (luma, colourfulness) over synthetic haystack frames: shape (2, 2)."""
    stats = np.array([image_statistics(f) for f in SyntheticHaystack(seed, width, height).frames(frames)])
    return np.percentile(stats, [10, 90], axis=0)


def balanced_answers(count: int, rng: np.random.Generator, n_options: int = 4) -> list[int]:
    """Answer indices for `count` needles: every block of `n_options` needles uses each index once,
    in a seeded order, so the answer letters are balanced over a set (counts differ by at most 1)."""
    blocks = [rng.permutation(n_options) for _ in range(-(-count // n_options))]
    return [int(a) for a in np.concatenate(blocks)[:count]] if blocks else []


def builtin_needles(count: int, seed: int, width: int, height: int, families: list[str] | None = None,
                    kind: str = "near") -> list[Needle]:  # fmt: skip
    """`count` procedural needles cycling through `families` (default: all), with `kind`
    distractors (near or scene), seeded; answer letters balanced over the set.

    Each needle is drawn on the first frame of a synthetic scene that no haystack uses; scenes are
    tried in a fixed order until the needle and every distractor fall inside the central 10–90 %
    band of the haystack's brightness and colourfulness, so neither cue gives the needle away.
    """
    families = families or list(FAMILIES)
    specs = [get_family(name) for name in families]
    answers = balanced_answers(count, np.random.default_rng([seed, 4099]))
    band = typical_band(seed, width, height)
    haystack = SyntheticHaystack(seed, width, height)
    needles = []
    for i in range(count):
        family = specs[i % len(specs)]
        for attempt in range(BACKGROUND_TRIES):
            rng = np.random.default_rng([seed, 7919, i, attempt])
            first = NEEDLE_SCENES + (i * BACKGROUND_TRIES + attempt) * SCENES_PER_TRY

            background = functools.cache(lambda j, first=first: next(haystack.scene(first + j)))
            drawn = render(family, rng, answers[i], kind, background, width, height)
            stats = np.array([image_statistics(img) for img in [drawn.image, *drawn.distractors]])
            if np.all((stats >= band[0]) & (stats <= band[1])):
                break
        distractors = [Distractor(img, lure, kind, drawn.key.satisfied_by(record))
                       for img, lure, record in zip(drawn.distractors, drawn.lures, drawn.distractor_drawn,
                                                    strict=True)]  # fmt: skip
        key_box = next(d.box for d in drawn.drawn if drawn.key.matches(d))
        value_box = next((d.box for d in drawn.drawn if not drawn.key.matches(d)), None)
        needles.append(Needle(f"n{i:03d}-{family.name}", family.name, drawn.key.find, family.ask, drawn.options,
                              drawn.answer, drawn.image, distractors, key_box, value_box))  # fmt: skip
    return needles
