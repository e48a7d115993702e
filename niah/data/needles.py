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

import cv2
import numpy as np

from niah.data.draw import Box
from niah.data.families import LOOKALIKES, NEEDLE_FAMILIES, get_family, render
from niah.data.synthetic import FOCUS_BLUR, SyntheticHaystack

LETTERS = string.ascii_uppercase  # option letters: A, B, C, ...
NEEDLE_SCENES = 1_000_000  # needle backgrounds come from synthetic scenes at this index and up
SCENE_LOOKALIKES = 2_000_000  # scene look-alikes' backgrounds from this index up, BACKGROUND_TRIES per look-alike


@dataclass
class Distractor:
    """A look-alike of a needle. `lure` is the option index it shows (None when a foreign format
    does not say): a wrong option, or the answer for a `decoy` (a look-alike that shows the answer's
    value, so option frequencies give nothing away); `kind` is near, scene or user;
    `satisfies_find` is the renderer's record of whether it satisfies the needle's find clause
    (None: not known)."""

    image: np.ndarray
    lure: int | None
    kind: str = "user"
    satisfies_find: bool | None = None
    decoy: bool = False
    key: str | None = None  # the key object it shows, "colour shape" (e.g. "blue star"); None: not known


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
    key: str | None = None  # what the find clause names, "colour shape"; None: not known (a user's needle)
    same_key: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (option, image): its key beside another

    @property
    def question(self) -> str:
        return f"{self.find} {self.ask}".strip()


def image_statistics(img: np.ndarray) -> tuple[float, float, float]:
    """(mean luma, Hasler–Süsstrunk colourfulness, variance of the Laplacian of the grey image) of an
    RGB image (H, W, 3) uint8: the low-level cues a needle must not stand out by."""
    r, g, b = (img[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    sharpness = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    return float((0.299 * r + 0.587 * g + 0.114 * b).mean()), float(colourful), float(sharpness)


BACKGROUND_TRIES = 40  # backgrounds tried per needle before settling for the last one


def typical_band(seed: int, width: int, height: int, frames: int = 240) -> np.ndarray:
    """The 10th–90th percentile of `image_statistics` over synthetic haystack frames: shape (2, 3)."""
    stats = np.array([image_statistics(f) for f in SyntheticHaystack(seed, width, height).frames(frames)])
    return np.percentile(stats, [10, 90], axis=0)


def balanced_answers(count: int, rng: np.random.Generator, n_options: int = 4) -> list[int]:
    """Answer indices for `count` needles: every block of `n_options` needles uses each index once,
    in a seeded order, so the answer letters are balanced over a set (counts differ by at most 1)."""
    blocks = [rng.permutation(n_options) for _ in range(-(-count // n_options))]
    return [int(a) for a in np.concatenate(blocks)[:count]] if blocks else []


def builtin_needles(count: int, seed: int, width: int, height: int, families: list[str] | None = None,
                    kind: str = "near") -> list[Needle]:  # fmt: skip
    """`count` procedural needles cycling through `families` (default: all), each with its 15
    look-alikes of `kind` (near or scene), seeded; answer letters balanced over the set.

    The same seed gives the same needles (key, options, answer, layout, background) whatever the
    kind, so near and scene datasets compare paired. Each needle is drawn on the first frame of a
    synthetic scene that no haystack uses; scenes are tried in a fixed order until the needle falls
    inside the central 10–90 % band of the haystack's brightness, colourfulness and sharpness (a
    near look-alike shares its background); each scene look-alike's background is chosen the same
    way, so none of these cues gives the needle or a look-alike away.
    """
    families = families or list(NEEDLE_FAMILIES)
    specs = [get_family(name) for name in families]
    answers = balanced_answers(count, np.random.default_rng([seed, 4099]))
    band = typical_band(seed, width, height)
    haystack = SyntheticHaystack(seed, width, height)

    def typical(image: np.ndarray) -> bool:
        stats = np.array(image_statistics(image))
        return bool(np.all((stats >= band[0]) & (stats <= band[1])))

    @functools.lru_cache(maxsize=4 * LOOKALIKES)
    def scene(index: int) -> np.ndarray:
        return next(haystack.scene(index, blur=False))

    def camera(i: int, j: int, attempt: int) -> float:
        """Image j of needle i's camera blur (px) at its attempt-th try."""
        return float(np.random.default_rng([seed, 7927, i, j, attempt]).uniform(*FOCUS_BLUR))

    needles = []
    for i in range(count):
        family = specs[i % len(specs)]
        for attempt in range(BACKGROUND_TRIES):  # a background and a camera blur that make the needle typical
            plain = next(haystack.scene(NEEDLE_SCENES + i * BACKGROUND_TRIES + attempt, blur=False))
            blur = np.full(1 + LOOKALIKES, camera(i, 0, attempt))
            drawn = render(family, np.random.default_rng([seed, 7919, i]), answers[i], "near", lambda j, p=plain: p,
                           width, height, count=0, blur=blur)  # fmt: skip
            if typical(drawn.image):
                break
        tries = [0] * (1 + LOOKALIKES)  # scene look-alike j's background and blur: the tries[j]-th of its own
        for _ in range(BACKGROUND_TRIES):
            if kind == "scene":
                blur = np.array([blur[0], *(camera(i, j, tries[j]) for j in range(1, 1 + LOOKALIKES))])
            background = functools.partial(
                lambda j, i, p, tries: p if j == 0 or kind == "near"
                else scene(SCENE_LOOKALIKES + (i * LOOKALIKES + j) * BACKGROUND_TRIES + tries[j]),
                i=i, p=plain, tries=tries)  # fmt: skip
            drawn = render(family, np.random.default_rng([seed, 7919, i]), answers[i], kind, background, width, height,
                           blur=blur)  # fmt: skip
            odd = [1 + j for j, img in enumerate(drawn.distractors) if not typical(img)] if kind == "scene" else []
            if not odd:
                break
            tries = [t + (j in odd) if t + 1 < BACKGROUND_TRIES else t for j, t in enumerate(tries)]
        distractors = [Distractor(img, shown, kind, drawn.key.satisfied_by(record), shown == drawn.answer,
                                  f"{record[0].colour} {record[0].kind}")
                       for img, shown, record in zip(drawn.distractors, drawn.shows, drawn.distractor_drawn,
                                                     strict=True)]  # fmt: skip
        key_box = next(d.box for d in drawn.drawn if drawn.key.matches(d))
        value_box = next((d.box for d in drawn.drawn if not drawn.key.matches(d)), None)
        needles.append(Needle(f"n{i:03d}-{family.name}", family.name, drawn.key.find, family.ask, drawn.options,
                              drawn.answer, drawn.image, distractors, key_box, value_box,
                              f"{drawn.key.colour} {drawn.key.shape}", drawn.same_key))  # fmt: skip
    return needles
