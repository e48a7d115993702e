"""Image files: reading (any size, fitted to the frame), writing PNG, and cached dataset reads.

Pixels are (H, W, 3) uint8 RGB everywhere in niah; OpenCV's BGR stays inside this module.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from niah.errors import NiahError


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


MIN_IMAGE_SIDE = 8  # pixels: smaller images carry no content a frame could show


def read_image(path: Path, width: int, height: int, what: str = "needle image") -> np.ndarray:
    """An image file as (height, width, 3) uint8 RGB, resized to fill the frame (centre crop)."""
    data = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if data is None:
        why = "does not exist" if not path.exists() else "is not a readable image"
        raise NiahError(f"{what} '{path}' {why}: give a PNG or JPEG path")
    if min(data.shape[:2]) < MIN_IMAGE_SIDE:
        raise NiahError(f"{what} '{path}' is {data.shape[1]}x{data.shape[0]} pixels: give an image at least "
                        f"{MIN_IMAGE_SIDE} pixels a side (it is scaled to fill each frame)")  # fmt: skip
    return fit_frame(cv2.cvtColor(data, cv2.COLOR_BGR2RGB), width, height)


def write_png(path: Path, img: np.ndarray) -> None:
    """Write an RGB image as PNG (lossless, deterministic bytes); a failed write raises OSError
    (cv2.imwrite would only return False, e.g. on a full disk)."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    if not ok:
        raise NiahError(f"cannot encode '{path}' as PNG")
    path.write_bytes(data.tobytes())


@lru_cache(maxsize=256)
def load_png(path: Path) -> np.ndarray:
    """A dataset's PNG as RGB (cached: cells share needle images)."""
    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise NiahError(f"dataset image '{path}' is missing or corrupt: generate the dataset again")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
