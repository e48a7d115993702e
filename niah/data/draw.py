"""Drawing primitives for needles, each returning a record of what it drew.

A `Drawn` is the renderer's own account of one object: its kind, its named colour, what it shows
(a number, a word, a count) and its box in pixels. Validity checks read these records, not the
pixels: a find clause is satisfied by an image exactly when one of its records matches the key.
Colours are RGB tuples; every function draws in place on an (H, W, 3) uint8 RGB image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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
KEY_SHAPES = ("star", "triangle", "cross", "diamond")  # never drawn by the synthetic haystack
VALUE_SHAPES = ("circle", "square", "hexagon", "ring", "pentagon")
SIGN_PAPER = (225, 215, 190)

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels, end-exclusive


@dataclass(frozen=True)
class Drawn:
    """One object a renderer drew. `colour` is a COLOURS name ('' for an unnamed colour)."""

    kind: str
    colour: str = ""
    shows: str = ""
    box: Box = (0, 0, 0, 0)

    def as_json(self) -> dict:
        return {"kind": self.kind, "colour": self.colour, "shows": self.shows, "box": list(self.box)}


def _box(cx: float, cy: float, half_w: float, half_h: float, img: np.ndarray, pad: int = 2) -> Box:
    """The box around a centre, padded for anti-aliasing and outline, clipped to the image."""
    h, w = img.shape[:2]
    return (max(0, int(cx - half_w) - pad), max(0, int(cy - half_h) - pad),
            min(w, int(np.ceil(cx + half_w)) + pad + 1), min(h, int(np.ceil(cy + half_h)) + pad + 1))  # fmt: skip


def _polygon(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    """Vertices (n, 2) int32 of a polygonal shape of circumradius r."""
    if shape == "star":
        ang = np.deg2rad(np.arange(10) * 36 - 90)
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        return np.stack([cx + radii * np.cos(ang), cy + radii * np.sin(ang)], 1).astype(np.int32)
    if shape == "cross":
        a, b = r, r * 0.35
        pts = [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b), (-a, -b),
               (-b, -b)]  # fmt: skip
        return np.array([(cx + x, cy + y) for x, y in pts], np.int32)
    corners = {"triangle": [-90, 30, 150], "diamond": [-90, 0, 90, 180], "square": [-135, -45, 45, 135],
               "hexagon": [0, 60, 120, 180, 240, 300], "pentagon": [-90, -18, 54, 126, 198]}  # fmt: skip
    ang = np.deg2rad(corners[shape])
    return np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1).astype(np.int32)


def outline_for(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """A dark outline for light colours, a light one for dark colours."""
    return (20, 20, 20) if sum(colour) > 200 else (235, 235, 235)


def draw_shape(img: np.ndarray, shape: str, centre: tuple[float, float], radius: float, colour: str) -> Drawn:
    """A filled shape (KEY_SHAPES or VALUE_SHAPES) of a named colour with an outline, in place."""
    cx, cy = centre
    rgb = COLOURS[colour]
    line = outline_for(rgb)
    width = max(1, int(radius / 10))
    if shape in ("circle", "ring"):
        if shape == "circle":
            cv2.circle(img, (int(cx), int(cy)), int(radius), rgb, -1, cv2.LINE_AA)
        else:
            cv2.circle(img, (int(cx), int(cy)), int(radius * 0.75), rgb, max(2, int(radius * 0.4)), cv2.LINE_AA)
        cv2.circle(img, (int(cx), int(cy)), int(radius), line, width, cv2.LINE_AA)
    else:
        pts = _polygon(shape, cx, cy, radius)
        cv2.fillPoly(img, [pts], rgb, cv2.LINE_AA)
        cv2.polylines(img, [pts], True, line, width, cv2.LINE_AA)
    return Drawn(shape, colour, "", _box(cx, cy, radius, radius, img, pad=width + 2))


def draw_sign(img: np.ndarray, text: str, centre: tuple[float, float], height: float) -> Drawn:
    """A sign of about `height` pixels centred at `centre` with `text` written on it, in place."""
    scale = height / 40
    thick = max(1, int(round(2 * scale)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thick)
    cx, cy = centre
    x0, y0 = int(cx - tw / 2), int(cy + th / 2)
    pad = max(2, int(8 * scale))
    corner0, corner1 = (x0 - pad, y0 - th - pad), (x0 + tw + pad, y0 + pad)
    cv2.rectangle(img, corner0, corner1, SIGN_PAPER, -1)
    cv2.rectangle(img, corner0, corner1, (60, 40, 20), thick)
    cv2.putText(img, text, (x0, y0), cv2.FONT_HERSHEY_DUPLEX, scale, (20, 20, 20), thick, cv2.LINE_AA)
    return Drawn("sign", "", text, _box(cx, cy, tw / 2 + pad, th / 2 + pad, img, pad=thick + 1))


def sign_width(text: str, height: float) -> float:
    """The width in pixels `draw_sign` gives `text` at `height`."""
    scale = height / 40
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, max(1, int(round(2 * scale))))
    return tw + 2 * max(2, int(8 * scale))


def draw_dots(img: np.ndarray, count: int, centre: tuple[float, float], radius: float) -> Drawn:
    """`count` (1–6) white dots in a 2-row grid inside a square of half-side `radius`, in place."""
    cx, cy = centre
    cols = min(count, 3)
    rows = (count + cols - 1) // cols
    dot = radius / 3.4
    for i in range(count):
        x = cx + ((i % cols) - (cols - 1) / 2) * 2.3 * dot
        y = cy + ((i // cols) - (rows - 1) / 2) * 2.3 * dot
        cv2.circle(img, (int(x), int(y)), int(dot), COLOURS["white"], -1, cv2.LINE_AA)
        cv2.circle(img, (int(x), int(y)), int(dot), (20, 20, 20), max(1, int(dot / 5)), cv2.LINE_AA)
    return Drawn("dots", "white", str(count), _box(cx, cy, radius, radius, img))
