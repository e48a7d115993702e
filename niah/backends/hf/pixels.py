"""Frames → the vision tower's input, as transformers' Qwen2-VL processors lay it out.

Each frame is one temporal unit: its pixels repeated over the temporal patch (2 frames), as the
processor does for a still image, so insertions sit exactly where the dataset put them and every
unique frame is encoded once. Frames are resized only when their size is not a multiple of the
patch factor or falls outside the pixel limits (with the processor's filter: bicubic, Ovis2.5's
bilinear); frames already a
multiple (448×252 for Qwen2-VL) pass through untouched, so there is nothing for the two to
disagree on. Every haystack length shows its frames at one size: that of a one-unit video. Where
the model's video processor budgets pixels per video (Qwen3-VL), it would shrink the frames of a
long video; the hf backend warns when a run's longest haystack is such a video.

Shapes: a frame (H, W, 3) uint8 → (grid_h · grid_w, 3 · temporal · patch · patch) float32 with
rows in the processor's merge-window order, and grid (1, grid_h, grid_w) in patches. InternVL and
LLaVA-OneVision instead take each frame as one tile of fixed size, (3, H, W) (`normalised`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from niah.backends.hf.checkpoint import PixelSettings
from niah.errors import NiahError


def target_size(height: int, width: int, s: PixelSettings, units: int = 1) -> tuple[int, int]:
    """transformers' smart_resize of a video of `units` niah frames (each one temporal unit:
    s.temporal_patch_size copies of the frame): multiples of the factor, within [min_pixels,
    max_pixels] per frame, or, where the budget is per video (Qwen3-VL's video processor), for all
    its frames × pixels together (with its optional per-frame cap); a fixed tile size (InternVL,
    LLaVA-OneVision) whatever the frame. Returns (H, W) in pixels."""
    if s.fixed_size is not None:
        return s.fixed_size
    f = s.factor
    frames = units * s.temporal_patch_size if s.per_video else 1
    if s.resize == "hy4":
        return hy4_size(height, width, f, frames, s.max_pixels, s.frame_max_pixels or s.max_pixels)
    max_pixels = s.max_pixels
    if s.frame_cap_tokens is not None:
        per_frame = max(min(s.frame_cap_tokens * f * f, s.max_pixels // frames), int(s.min_pixels * 1.05))
        max_pixels = per_frame * frames
    if s.per_video and min(height, width) < f:  # Qwen3-VL first scales a frame up to one factor
        scale = max(f / height, f / width)
        height, width = int(height * scale), int(width * scale)
    h, w = max(f, round(height / f) * f), max(f, round(width / f) * f)
    if frames * h * w > max_pixels:
        beta = math.sqrt(frames * height * width / max_pixels)
        h, w = max(f, math.floor(height / beta / f) * f), max(f, math.floor(width / beta / f) * f)
    elif frames * h * w < s.min_pixels:
        beta = math.sqrt(s.min_pixels / (frames * height * width))
        h, w = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return h, w


def hy4_size(height: int, width: int, f: int, frames: int, max_pixels: int, frame_max_pixels: int) -> tuple[int, int]:
    """HY-V4-VL's video resize (HYV4VLVideoProcessor.smart_resize): the largest (rows·f, cols·f),
    never above the frame's own rows and columns of f-pixel merged patches, on the frame's aspect
    ray (rows ↦ the columns whose aspect rounds to it), with at most `frame_max_pixels` pixels a
    frame and `frames` · rows · (cols + 1) tokens (a newline token a row) within max_pixels / f²."""
    if max(height, width) / min(height, width) > 200:
        raise NiahError(f"a {width}×{height} frame: HY-V4-VL's processor refuses aspect ratios above 200; crop or "
                        "pad the video's frames")  # fmt: skip
    max_rows, max_cols = max(1, height // f), max(1, width // f)
    budget = max_pixels // (f * f)
    for rows in range(max_rows, 0, -1):
        low = 1 if rows == 1 else max(1, width * rows // height)
        high = min(max_cols, max(1, -(-width * (rows + 1) // height) - 1))
        cols = min(high, budget // (frames * rows) - 1 if budget > 0 else 0, frame_max_pixels // (f * f * rows))
        if cols >= low:
            return rows * f, cols * f
    return f, f


RESAMPLE = {"nearest": cv2.INTER_NEAREST, "lanczos": cv2.INTER_LANCZOS4, "bilinear": cv2.INTER_LINEAR,
            "bicubic": cv2.INTER_CUBIC}  # fmt: skip
"""The processor's resize filter (PixelSettings.resample) → the OpenCV filter niah resizes frames with."""


def _merge_windows(frame: np.ndarray, s: PixelSettings) -> tuple[torch.Tensor, int, int]:
    """One frame → (3, grid_h/m, m, p, grid_w/m, m, p) normalised pixels, grid_h, grid_w."""
    x = normalised(frame, s)  # (3, H, W)
    p, m = s.patch_size, s.merge_size
    gh, gw = x.shape[1] // p, x.shape[2] // p
    return x.reshape(3, gh // m, m, p, gw // m, m, p), gh, gw


def patchify(frame: np.ndarray, s: PixelSettings) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """One frame → (patches, (1, grid_h, grid_w)); see the module docstring for the layout."""
    x, gh, gw = _merge_windows(frame, s)
    x = x.permute(1, 4, 2, 5, 0, 3, 6)  # (gh/m, gw/m, m, m, 3, p, p)
    x = x.unsqueeze(5).expand(-1, -1, -1, -1, -1, s.temporal_patch_size, -1, -1)  # (.., 3, T, p, p)
    return x.reshape(gh * gw, -1), (1, gh, gw)


def patchify_raster(frame: np.ndarray, s: PixelSettings) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """As `patchify`, the patches in raster order over the whole frame (row by row of patches),
    not merge window by window: HY-V4-VL's processors, whose merger reshapes them to (H, W)."""
    x, gh, gw = _merge_windows(frame, s)
    x = x.permute(1, 2, 4, 5, 0, 3, 6)  # (gh/m, m, gw/m, m, 3, p, p)
    x = x.unsqueeze(5).expand(-1, -1, -1, -1, -1, s.temporal_patch_size, -1, -1)  # (.., 3, T, p, p)
    return x.reshape(gh * gw, -1), (1, gh, gw)


def patchify_channels_last(frame: np.ndarray, s: PixelSettings) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """As `patchify`, each patch's values in (p, p, 3, T) order: Cosmos3-Edge's processors."""
    x, gh, gw = _merge_windows(frame, s)
    x = x.permute(1, 4, 2, 5, 3, 6, 0)  # (gh/m, gw/m, m, m, p, p, 3)
    x = x.unsqueeze(-1).expand(*x.shape, s.temporal_patch_size)  # (.., p, p, 3, T)
    return x.reshape(gh * gw, -1), (1, gh, gw)


def normalised(frame: np.ndarray, s: PixelSettings) -> torch.Tensor:
    """One frame (H0, W0, 3) uint8 → (3, H, W) float32 at `target_size` (with the processor's filter,
    RESAMPLE, where the size changes, whatever the aspect for a fixed tile), scaled to [0, 1] and
    normalised by mean/std."""
    h, w = target_size(frame.shape[0], frame.shape[1], s)
    if (h, w) != frame.shape[:2]:
        frame = cv2.resize(frame, (w, h), interpolation=RESAMPLE[s.resample])
    x = torch.tensor(frame, dtype=torch.float32).div_(255.0)  # copies: a read-only frame (PIL) is fine
    return ((x - torch.tensor(s.mean)) / torch.tensor(s.std)).permute(2, 0, 1)


def time_label(seconds: float) -> str:
    """ERNIE-4.5-VL's timestamp text: "time: HH:MM:SS.ss"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"time: {int(hours):02d}:{int(minutes):02d}:{secs:05.02f}"


def draw_time(frame: np.ndarray, seconds: float, font: str | None) -> np.ndarray:
    """The frame (H, W, 3) uint8 with its time drawn in the top-left corner as ERNIE-4.5-VL's
    video processor draws it before resizing (black text, white outline, a font a tenth of the
    shorter side from the checkpoint's font file); unchanged without a font (drawing off)."""
    if font is None:
        return frame
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    size = int(min(image.size) * 0.1)
    ImageDraw.Draw(image).text((0, 0), time_label(seconds), font=ImageFont.truetype(font, size), fill=(0, 0, 0),
                               stroke_width=int(size * 0.1), stroke_fill=(255, 255, 255))  # fmt: skip
    return np.asarray(image)


def tokens_per_frame(height: int, width: int, s: PixelSettings, units: int = 1) -> tuple[int, int]:
    """(H, W) LLM tokens of a frame after the merge, in a video of `units` frames; W counts the
    newline token that ends each row where the family has one (HY-V4-VL)."""
    if s.tile_tokens is not None:
        return s.tile_tokens
    h, w = target_size(height, width, s, units)
    return h // s.factor, w // s.factor + s.row_newline
