"""A procedural, seeded haystack video: varied natural-looking scenes, free of copyright.

Each scene (a cut every 3–12 frames: at 1 fps, a film's shot length) is a large canvas — a
two-colour gradient in a random direction, low-frequency colour texture, a horizon, soft blobs and
boxes, and sharp outlined bars and ellipses drawn as the needles' objects are — viewed through a
camera that pans across it, with a few sprites moving in front; each frame gets its own slight
blur (focus, motion), as needle images do, so sharpness varies from frame to frame. Palettes vary
from dull to vivid and dark to bright, so brightness, colourfulness and sharpness spread widely
and a needle drawn on the same kind of background is no outlier by those statistics (`niah
audit`'s frame rules measure it).

Everything derives from numpy's PCG64 seeded by (seed, scene index), so frame k of a haystack is
the same whatever length is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from niah.data.draw import Drawn, outline_for

SCENE_FRAMES = (3, 12)  # a cut every 3-12 frames (at 1 fps: seconds; films average 4-6 s a shot)
FOCUS_BLUR = (0.0, 0.8)  # each frame's blur sigma in pixels (focus, motion), drawn per frame
MIN_BLUR = 0.3  # below this sigma a frame is left as drawn


def camera_blur(frame: np.ndarray, sigma: float) -> np.ndarray:
    """The frame as the camera saw it: Gaussian blur of `sigma` px (none below MIN_BLUR). Needles go
    through the same blur with sigmas drawn from FOCUS_BLUR, so sharpness is no cue."""
    return cv2.GaussianBlur(frame, (0, 0), sigma) if sigma >= MIN_BLUR else frame


def _colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def scene_canvas(rng: np.random.Generator, height: int, width: int, record: list[Drawn] | None = None) -> np.ndarray:
    """A (height, width, 3) uint8 RGB still: gradient, texture, horizon, blobs and boxes. Each
    object drawn is appended to `record` when given.

    Drawn at half resolution and upscaled: the still is soft anyway, and this is 4× cheaper.
    """
    full = (width, height)
    height, width = max(2, height // 2), max(2, width // 2)
    sat, val = (0.1, rng.uniform(0.3, 1.0)), (rng.uniform(0.15, 0.5), rng.uniform(0.6, 1.0))
    a, b = _colour(rng, sat, val), _colour(rng, sat, val)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height + 1) / 2
    img = a * (1 - ramp[..., None]) + b * ramp[..., None]
    texture = rng.normal(0, 1, (max(2, height // 24), max(2, width // 24), 3)).astype(np.float32)
    img += cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(8, 30)
    horizon = (height * rng.uniform(0.3, 0.8) + height * 0.08 * np.sin(xx[0] / width * rng.uniform(2, 9))).astype(int)
    ground = _colour(rng, sat, val)
    below = yy >= horizon[None, :]
    img[below] = img[below] * 0.4 + ground * 0.6
    for _ in range(rng.integers(4, 12)):
        colour = tuple(float(c) for c in _colour(rng, sat, val))
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        if rng.random() < 0.5:
            cv2.circle(img, centre, int(rng.uniform(0.03, 0.15) * width), colour, -1, cv2.LINE_AA)
            kind = "circle"
        else:
            size = np.array([rng.uniform(0.04, 0.2) * width, rng.uniform(0.04, 0.2) * height])
            cv2.rectangle(img, centre, tuple(int(v) for v in centre + size), colour, -1, cv2.LINE_AA)
            kind = "box"
        if record is not None:
            record.append(Drawn(kind))
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    img = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), full, interpolation=cv2.INTER_LINEAR)
    crisp_objects(rng, img, record)
    return img


CRISP_OBJECTS = (8, 25)  # outlined objects per canvas: 8-24
CRISP_RADIUS = (0.05, 0.2)  # half-length, of the canvas height (a canvas is 1.3-2x the frame)


def crisp_objects(rng: np.random.Generator, img: np.ndarray, record: list[Drawn] | None = None) -> None:
    """Draw sharp outlined bars and ellipses in place, with the needles' edges (anti-aliased fill,
    outline of width radius / 10), so the haystack has the needles' edge statistics and the
    sharpest frame is not the needle (`niah audit`'s frame:sharpest rule). They are elongated
    (2.5-5 times as long as wide, at any angle), so none is a key shape or looks like a value a
    question asks for (a square, a circle, a dot, a sign)."""
    height, width = img.shape[:2]
    for _ in range(rng.integers(*CRISP_OBJECTS)):
        fill = tuple(float(c) for c in _colour(rng, (0.2, 1.0), (0.2, 1.0)))
        line = outline_for(tuple(int(c) for c in fill))
        radius = max(3, int(rng.uniform(*CRISP_RADIUS) * height))
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (radius, max(1, int(radius / rng.uniform(2.5, 5.0))))
        angle = float(rng.uniform(0, 180))
        thick = max(1, radius // 10)
        if rng.random() < 0.5:
            cv2.ellipse(img, centre, axes, angle, 0, 360, fill, -1, cv2.LINE_AA)
            cv2.ellipse(img, centre, axes, angle, 0, 360, line, thick, cv2.LINE_AA)
            kind = "ellipse"
        else:
            corners = cv2.boxPoints((centre, (2 * axes[0], 2 * axes[1]), angle)).astype(np.int32)
            cv2.fillPoly(img, [corners], fill, cv2.LINE_AA)
            cv2.polylines(img, [corners], True, line, thick, cv2.LINE_AA)
            kind = "bar"
        if record is not None:
            record.append(Drawn(kind))


@dataclass
class _Sprite:
    colour: tuple[float, float, float]
    radius: int
    pos: np.ndarray
    vel: np.ndarray
    square: bool


class SyntheticHaystack:
    """Frames of the procedural haystack for a seed and frame size (width × height, pixels)."""

    def __init__(self, seed: int, width: int, height: int):
        self.seed, self.width, self.height = seed, width, height

    def scene(self, index: int, record: list[Drawn] | None = None, blur: bool = True) -> Iterator[np.ndarray]:
        """The frames of scene `index` (its own seeded stream), each (height, width, 3) uint8.
        Every object drawn is appended to `record` when given (the sprites once, before frame 0).
        `blur=False`: without the camera's blur (a needle's background, blurred once it is drawn)."""
        rng = np.random.default_rng([self.seed, index])
        n = int(rng.integers(SCENE_FRAMES[0], SCENE_FRAMES[1] + 1))
        zoom = rng.uniform(1.3, 2.0)
        ch, cw = int(self.height * zoom), int(self.width * zoom)
        canvas = scene_canvas(rng, ch, cw, record)
        start = np.array([rng.uniform(0, ch - self.height), rng.uniform(0, cw - self.width)])
        end = np.array([rng.uniform(0, ch - self.height), rng.uniform(0, cw - self.width)])
        sprites = [
            _Sprite(
                tuple(float(c) for c in _colour(rng, (0.4, 1.0), (0.4, 1.0))),
                int(rng.uniform(0.03, 0.12) * self.width),
                rng.uniform([0, 0], [self.width, self.height]),
                rng.normal(0, 0.02, 2) * self.width,
                bool(rng.random() < 0.5),
            )
            for _ in range(rng.integers(1, 6))
        ]
        if record is not None:
            record.extend(Drawn("box" if s.square else "circle") for s in sprites)
        focus = rng.uniform(*FOCUS_BLUR, n)  # each frame's blur sigma (px): focus and motion blur
        for f in range(n):
            y, x = (start + (end - start) * f / max(1, n - 1)).astype(int)
            frame = canvas[y : y + self.height, x : x + self.width].copy()
            for s in sprites:
                p = (s.pos + s.vel * f) % [self.width, self.height]
                cx, cy = int(p[0]), int(p[1])
                if s.square:
                    cv2.rectangle(frame, (cx - s.radius, cy - s.radius), (cx + s.radius, cy + s.radius), s.colour, -1)
                else:
                    cv2.circle(frame, (cx, cy), s.radius, s.colour, -1, cv2.LINE_AA)
            yield camera_blur(frame, focus[f]) if blur else frame

    def frames(self, count: int) -> Iterator[np.ndarray]:
        """The first `count` frames of the haystack."""
        produced = 0
        index = 0
        while produced < count:
            for frame in self.scene(index):
                if produced == count:
                    return
                yield frame
                produced += 1
            index += 1
