"""A procedural, seeded haystack video: varied natural-looking scenes, free of copyright.

Each scene (a cut every 20–60 frames) is a large canvas — a two-colour gradient in a random
direction, low-frequency colour texture, a horizon, soft blobs and boxes — viewed through a
camera that pans across it, with a few sprites moving in front. Palettes vary from dull to vivid
and dark to bright, so brightness and colourfulness spread widely and a needle drawn on the same
kind of background is no outlier by those statistics.

Everything derives from numpy's PCG64 seeded by (seed, scene index), so frame k of a haystack is
the same whatever length is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from niah.data.draw import Drawn

SCENE_FRAMES = (20, 60)  # a scene cut every 20–60 frames (at 1 fps: every 20–60 seconds)


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
    return cv2.resize(np.clip(img, 0, 255).astype(np.uint8), full, interpolation=cv2.INTER_LINEAR)


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

    def scene(self, index: int, record: list[Drawn] | None = None) -> Iterator[np.ndarray]:
        """The frames of scene `index` (its own seeded stream), each (height, width, 3) uint8.
        Every object drawn is appended to `record` when given (the sprites once, before frame 0)."""
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
            yield frame

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
