"""Haystack sources: where the haystack frames come from (a registry, one function each).

A source yields exactly `count` RGB frames of shape (height, width, 3) uint8 at the dataset's
fps, or raises NiahError (missing/corrupt input, too short without `loop`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from niah.data.images import fit_frame
from niah.data.synthetic import SyntheticHaystack
from niah.data.video_io import sample_at_fps, source_rate
from niah.errors import NiahError, NiahWarning

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class SourceSpec:
    """What a source needs: `path` (video file or image folder, None for synthetic) and `loop`."""

    kind: str
    path: str | None
    width: int
    height: int
    fps: float
    seed: int
    loop: bool = False
    allow_truncated: bool = False


def _checked(frames: Iterator[np.ndarray], count: int, spec: SourceSpec, what: str) -> Iterator[np.ndarray]:
    produced = 0
    for frame in islice(frames, count):
        produced += 1
        yield frame
    if produced < count:
        raise NiahError(
            f"{what} gives {produced} frames at {spec.fps:g} fps but the longest haystack asked for is {count} "
            "frames: use shorter --lengths, a lower --fps with more footage, or --loop"
        )


def _looped(make: Callable[[], Iterator[np.ndarray]], loop: bool) -> Iterator[np.ndarray]:
    while True:
        empty = True
        for frame in make():
            empty = False
            yield frame
        if not loop or empty:
            return


def synthetic_source(spec: SourceSpec, count: int) -> Iterator[np.ndarray]:
    """The procedural haystack (niah.data.synthetic), seeded by `spec.seed`."""
    return SyntheticHaystack(spec.seed, spec.width, spec.height).frames(count)


def video_source(spec: SourceSpec, count: int) -> Iterator[np.ndarray]:
    """A user's video sampled at exact times k/fps, centre-cropped and resized to the frame size
    (a NiahWarning when fps is above the video's own frame rate: frames then repeat)."""
    path = Path(spec.path or "")
    if not path.is_file():
        raise NiahError(f"video '{path}' does not exist: give --video PATH to an existing file")
    rate = source_rate(path)
    if spec.fps > rate * 1.01:
        why = f"each of its frames repeats about {spec.fps / rate:.1f} times in the haystack"
        message = f"--fps {spec.fps:g} is above the {rate:g} fps of video '{path}': {why}"
        warnings.warn(NiahWarning(message), stacklevel=2)

    def frames() -> Iterator[np.ndarray]:
        for frame in sample_at_fps(path, spec.fps, spec.allow_truncated):
            yield fit_frame(frame, spec.width, spec.height)

    return _checked(_looped(frames, spec.loop), count, spec, f"video '{path}'")


def frames_source(spec: SourceSpec, count: int) -> Iterator[np.ndarray]:
    """A folder of images in name order, one image per frame, resized to the frame size."""
    folder = Path(spec.path or "")
    if not folder.is_dir():
        raise NiahError(f"frames folder '{folder}' does not exist: give --frames DIR with image files")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise NiahError(f"frames folder '{folder}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")

    def frames() -> Iterator[np.ndarray]:
        for file in files:
            data = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if data is None:
                raise NiahError(f"cannot read image '{file}': not an image or corrupt")
            yield fit_frame(cv2.cvtColor(data, cv2.COLOR_BGR2RGB), spec.width, spec.height)

    return _checked(_looped(frames, spec.loop), count, spec, f"frames folder '{folder}'")


HAYSTACK_SOURCES: dict[str, Callable[[SourceSpec, int], Iterator[np.ndarray]]] = {
    "synthetic": synthetic_source,
    "video": video_source,
    "frames": frames_source,
}
