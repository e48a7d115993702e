"""Needles: an image, a question, four options, the answer, and look-alike distractors.

Built-in families are procedural: each draws one object on a haystack-like background
(the first frame of a synthetic scene no haystack uses) so a needle is no outlier by brightness or
colourfulness. A family renders the same template with one attribute changed — colour, count,
number, shape — to make distractors whose answer is another option.

`load_needle_file` reads the user's own needles (JSONL): niah's fields (image, question,
options, answer, distractors) or the LongVA needle set's (image/path, question/prompt, answer).
Relative image paths are relative to the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from niah.data.synthetic import SyntheticHaystack
from niah.errors import NiahError, unknown

LETTERS = "ABCD"
NEEDLE_SCENES = 1_000_000  # needle backgrounds come from synthetic scenes at this index and up


@dataclass
class Needle:
    """One needle. `options` are the answer texts; `answer` is the index of the right one.

    `image` is (H, W, 3) uint8 RGB; `distractors` are images of the same kind, and
    `distractor_answers[i]` is the option index distractor i would answer (never `answer`).
    """

    id: str
    family: str
    question: str
    options: list[str]
    answer: int
    image: np.ndarray
    distractors: list[np.ndarray] = field(default_factory=list)
    distractor_answers: list[int] = field(default_factory=list)

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer] if len(self.options) > 1 else ""


COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 70, 230),
    "yellow": (240, 220, 20),
    "purple": (140, 40, 190),
    "orange": (245, 130, 20),
    "white": (250, 250, 250),
    "black": (10, 10, 10),
}
SHAPES = ("circle", "square", "triangle", "star", "diamond", "cross")
WORDS = ("apple", "river", "piano", "tiger", "cloud", "lemon", "rocket", "garden", "candle", "mirror")


def _shape_points(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    if shape == "triangle":
        ang = np.deg2rad([-90, 30, 150])
    elif shape == "diamond":
        ang = np.deg2rad([-90, 0, 90, 180])
    elif shape == "square":
        ang = np.deg2rad([-135, -45, 45, 135])
    elif shape == "star":
        ang = np.deg2rad(np.arange(10) * 36 - 90)
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        return np.stack([cx + radii * np.cos(ang), cy + radii * np.sin(ang)], 1).astype(np.int32)
    else:  # cross
        a, b = r, r * 0.35
        pts = [
            (-b, -a),
            (b, -a),
            (b, -b),
            (a, -b),
            (a, b),
            (b, b),
            (b, a),
            (-b, a),
            (-b, b),
            (-a, b),
            (-a, -b),
            (-b, -b),
        ]
        return np.array([(cx + x, cy + y) for x, y in pts], np.int32)
    return np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1).astype(np.int32)


def draw_shape(img: np.ndarray, shape: str, centre: tuple[float, float], radius: float, colour) -> None:
    """Draw a filled shape with a dark outline, in place."""
    cx, cy = centre
    outline = (20, 20, 20) if sum(colour) > 200 else (235, 235, 235)
    if shape == "circle":
        cv2.circle(img, (int(cx), int(cy)), int(radius), colour, -1, cv2.LINE_AA)
        cv2.circle(img, (int(cx), int(cy)), int(radius), outline, max(1, int(radius / 10)), cv2.LINE_AA)
        return
    pts = _shape_points(shape, cx, cy, radius)
    cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    cv2.polylines(img, [pts], True, outline, max(1, int(radius / 10)), cv2.LINE_AA)


def draw_sign(img: np.ndarray, text: str) -> None:
    """A small sign in the middle of the image with `text` written on it, in place."""
    h, w = img.shape[:2]
    scale = h / 160
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, max(1, int(2 * scale)))
    x0, y0 = (w - tw) // 2, (h + th) // 2
    pad = int(10 * scale)
    cv2.rectangle(img, (x0 - pad, y0 - th - pad), (x0 + tw + pad, y0 + pad), (225, 215, 190), -1)
    cv2.rectangle(img, (x0 - pad, y0 - th - pad), (x0 + tw + pad, y0 + pad), (60, 40, 20), max(1, int(2 * scale)))
    cv2.putText(img, text, (x0, y0), cv2.FONT_HERSHEY_DUPLEX, scale, (20, 20, 20), max(1, int(2 * scale)), cv2.LINE_AA)


# A family: (rng, background factory, width, height) -> (question, options, answer, render(option) -> image)
Render = Callable[[int], np.ndarray]
Family = Callable[[np.random.Generator, Callable[[], np.ndarray], int, int], tuple[str, list[str], int, Render]]


def _four(rng: np.random.Generator, pool) -> list:
    return [pool[i] for i in rng.choice(len(pool), 4, replace=False)]


def family_colour(rng, background, width, height):
    """ "What colour is the <shape>?" — the distractors change the colour."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    options = _four(rng, list(COLOURS))
    centre = (width * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65))
    bg = background()

    def render(option: int) -> np.ndarray:
        img = bg.copy()
        draw_shape(img, shape, centre, 0.25 * height, COLOURS[options[option]])
        return img

    return f"What colour is the {shape} shown in the video?", options, int(rng.integers(4)), render


def family_shape(rng, background, width, height):
    """ "Which shape is drawn in <colour>?" — the distractors change the shape."""
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    options = _four(rng, list(SHAPES))
    bg = background()

    def render(option: int) -> np.ndarray:
        img = bg.copy()
        draw_shape(img, options[option], (width / 2, height / 2), 0.25 * height, COLOURS[colour])
        return img

    return f"Which shape is drawn in {colour} in the video?", options, int(rng.integers(4)), render


def family_count(rng, background, width, height):
    """ "How many <colour> <shape>s are there?" — the distractors change the count."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    first = int(rng.integers(2, 6))
    options = [str(first + i) for i in range(4)]
    bg = background()

    def render(option: int) -> np.ndarray:
        img = bg.copy()
        n = int(options[option])
        cols = min(n, 4)
        rows = (n + cols - 1) // cols
        r = min(width / (3.2 * cols), height / (3.2 * rows))
        for i in range(n):
            cx = width * ((i % cols) + 0.5) / cols
            cy = height * 0.5 + (i // cols - (rows - 1) / 2) * 2.4 * r
            draw_shape(img, shape, (cx, cy), r, COLOURS[colour])
        return img

    plural = shape + ("es" if shape.endswith("s") else "s")
    return f"How many {colour} {plural} appear in the video?", options, int(rng.integers(4)), render


def _sign(what: str, options: list[str], rng, background):
    """A sign with one of `options` written on it: "What <what> is written on the sign?"."""
    bg = background()

    def render(option: int) -> np.ndarray:
        img = bg.copy()
        draw_sign(img, options[option])
        return img

    return f"What {what} is written on the sign in the video?", options, int(rng.integers(4)), render


def family_number(rng, background, width, height):
    """ "What number is written on the sign?" — the distractors change the number."""
    return _sign("number", [str(v) for v in rng.choice(np.arange(10, 100), 4, replace=False)], rng, background)


def family_word(rng, background, width, height):
    """ "What word is written on the sign?" — the distractors change the word."""
    return _sign("word", _four(rng, list(WORDS)), rng, background)


NEEDLE_FAMILIES: dict[str, Family] = {
    "colour": family_colour,
    "shape": family_shape,
    "count": family_count,
    "number": family_number,
    "word": family_word,
}


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


def builtin_needles(count: int, seed: int, width: int, height: int, families: list[str] | None = None) -> list[Needle]:
    """`count` procedural needles cycling through `families` (default: all), seeded.

    Each needle is drawn on the first frame of a synthetic scene that no haystack uses; scenes are
    tried in a fixed order until the needle and every distractor fall inside the central 10–90 %
    band of the haystack's brightness and colourfulness, so neither cue gives the needle away.
    """
    families = families or list(NEEDLE_FAMILIES)
    for name in families:
        if name not in NEEDLE_FAMILIES:
            raise unknown("needle family", name, NEEDLE_FAMILIES)
    band = typical_band(seed, width, height)
    needles = []
    for i in range(count):
        name = families[i % len(families)]
        for attempt in range(BACKGROUND_TRIES):
            rng = np.random.default_rng([seed, 7919, i, attempt])
            scene = NEEDLE_SCENES + i * BACKGROUND_TRIES + attempt

            def background(scene=scene) -> np.ndarray:
                return next(SyntheticHaystack(seed, width, height).scene(scene))

            question, options, answer, render = NEEDLE_FAMILIES[name](rng, background, width, height)
            others = [j for j in range(len(options)) if j != answer]
            images = [render(j) for j in [answer, *others]]
            stats = np.array([image_statistics(img) for img in images])
            if np.all((stats >= band[0]) & (stats <= band[1])):
                break
        needles.append(Needle(f"n{i:03d}-{name}", name, question, options, answer, images[0], images[1:], others))
    return needles


def read_image(path: Path, width: int, height: int) -> np.ndarray:
    """An image file as (height, width, 3) uint8 RGB, resized to fill the frame (centre crop)."""
    data = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if data is None:
        why = "does not exist" if not path.exists() else "is not a readable image"
        raise NiahError(f"needle image '{path}' {why}: give a PNG or JPEG path")
    return fit_frame(cv2.cvtColor(data, cv2.COLOR_BGR2RGB), width, height)


def fit_frame(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio, then resize to width × height (INTER_AREA)."""
    h, w = img.shape[:2]
    target = width / height
    if w / h > target:
        cw = int(round(h * target))
        img = img[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = int(round(w / target))
        img = img[(h - ch) // 2 : (h - ch) // 2 + ch]
    if img.shape[:2] == (height, width):
        return np.ascontiguousarray(img)
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def load_needle_file(path: str | Path, width: int, height: int) -> list[Needle]:
    """Read a JSONL of needles (niah or LongVA fields); every problem is a NiahError naming the line."""
    path = Path(path)
    if not path.is_file():
        raise NiahError(f"needle file '{path}' does not exist")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise NiahError(f"needle file '{path}' is empty: write one JSON object per line")
    needles = []
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise NiahError(f"{path}:{n}: not valid JSON ({err.msg})") from None
        image = rec.get("image") or rec.get("path")
        question = rec.get("question") or rec.get("prompt")
        if not image or not question or "answer" not in rec:
            raise NiahError(f"{path}:{n}: a needle needs 'image' (or 'path'), 'question' (or 'prompt') and 'answer'")
        options = [str(o) for o in rec.get("options") or [rec["answer"]]]
        answer = _answer_index(str(rec["answer"]), options, f"{path}:{n}")
        base = path.parent
        distractors = [read_image(base / d, width, height) for d in rec.get("distractors", [])]
        others = [j for j in range(len(options)) if j != answer] or [-1]  # -1: not among the options
        d_answers = [int(a) for a in rec.get("distractor_answers", [])] or [
            others[i % len(others)] for i in range(len(distractors))
        ]
        needles.append(
            Needle(
                str(rec.get("id", f"user{n:03d}")),
                "user",
                question,
                options,
                answer,
                read_image(base / image, width, height),
                distractors,
                d_answers,
            )
        )
    return needles


def _answer_index(answer: str, options: list[str], where: str) -> int:
    if answer in options:
        return options.index(answer)
    if len(answer) == 1 and answer.upper() in LETTERS[: len(options)]:
        return LETTERS.index(answer.upper())
    raise NiahError(f"{where}: answer '{answer}' is neither one of the options {options} nor a letter A-D")
