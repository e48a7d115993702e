"""Position ids: a token layout → positions of shape (3, L) for the axes (t, h, w).

Two independent pieces compose here:

- a **temporal index** τ(f): the temporal coordinate of temporal unit f of a video run, relative
  to the run's start (unit spacing, VideoRoPE's δ·f, or Qwen2.5-VL's absolute time
  ⌊f·tokens_per_second·seconds⌋);
- a **placement rule**: where the tokens of a vision run go given the running position s (the
  next free position after the text before it) and τ, and where the text after the run
  continues.

Text tokens always take s, s+1, ... on all three axes. Notation: a vision run is a (T, H, W)
grid with indices f, y, x in row-major (t, y, x) order; positions are float64 in the library
and integral wherever the rule and τ make them so.

Sources: transformers' Qwen2-VL / Qwen2.5-VL / Qwen3-VL ``get_rope_index`` (M-RoPE, time
alignment), VideoRoPE (arXiv 2502.05173, Sec. 3 and its reference ``get_rope_index``: diagonal
layout, text after a video at max(t) + 1), TC-LLaVA (arXiv 2409.03206, TAD-RoPE), Su 2024
("Transformer upgrade path 17", RoPE-Tie).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from niah.rope.layout import Layout, TextRun, VisionRun

# ---------------------------------------------------------------- temporal index τ(f)

TemporalIndex = Callable[[VisionRun], np.ndarray]
"""Maps a vision run to τ(f) for f = 0..T-1, shape (T,), float64, relative to the run start."""


def unit_spacing(run: VisionRun) -> np.ndarray:
    """τ(f) = f: one position per temporal unit (Qwen2-VL, M-RoPE)."""
    return np.arange(run.frames, dtype=np.float64)


def scaled_spacing(delta: float) -> TemporalIndex:
    """τ(f) = δ·f: VideoRoPE's adjustable temporal spacing (δ = 2 in the paper), any real δ."""

    def tau(run: VisionRun) -> np.ndarray:
        return np.arange(run.frames, dtype=np.float64) * delta

    return tau


def absolute_time(tokens_per_second: float) -> TemporalIndex:
    """τ(f) = ⌊f · tokens_per_second · seconds_per_unit⌋: Qwen2.5-VL's time-aligned index.

    Images keep unit spacing (transformers applies time alignment to videos only).
    """

    def tau(run: VisionRun) -> np.ndarray:
        f = np.arange(run.frames, dtype=np.float64)
        if run.kind == "image":
            return f
        seconds = 1.0 if run.seconds is None else run.seconds
        return np.floor(f * (tokens_per_second * seconds))

    return tau


# ---------------------------------------------------------------- placement rules


@dataclass(frozen=True)
class Placement:
    """Positions of one vision run: `ids` (3, T·H·W) float64 and where the next text starts."""

    ids: np.ndarray
    next_start: float


PlacementRule = Callable[[VisionRun, float, TemporalIndex], Placement]


def _grid(run: VisionRun, tau: TemporalIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-token (τ(f), y, x), each of shape (T·H·W,), float64, in (t, y, x) row-major order."""
    t = tau(run)
    y = np.arange(run.height, dtype=np.float64)
    x = np.arange(run.width, dtype=np.float64)
    tt, yy, xx = np.meshgrid(t, y, x, indexing="ij")  # each (T, H, W)
    return tt.reshape(-1), yy.reshape(-1), xx.reshape(-1)


def place_flat(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """Vanilla RoPE: vision tokens are ordinary tokens, s, s+1, ... on all axes."""
    n = run.num_tokens
    flat = start + np.arange(n, dtype=np.float64)
    return Placement(np.tile(flat, (3, 1)), start + n)


def place_mrope(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """M-RoPE (Qwen2-VL): token (f, y, x) → (s + τ(f), s + y, s + x).

    The text after continues at the largest position of the run + 1, i.e.
    s + max(τ(T-1), H-1, W-1) + 1 (Qwen's design and transformers 4.x; transformers 5.x uses
    s + max(H, W) regardless of T, which agrees only when τ(T-1) < max(H, W)).
    """
    t, y, x = _grid(run, tau)
    ids = np.stack([start + t, start + y, start + x])  # (3, T·H·W)
    return Placement(ids, float(ids.max()) + 1)


def place_diagonal(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """VideoRoPE's diagonal layout: t = s + τ(f), h = t + y − ⌊(H−1)/2⌋, w = t + x − ⌊(W−1)/2⌋.

    The grid is centred on the diagonal, so the spatial neighbours of a frame's centre sit
    symmetrically around its temporal index. The text after continues at max(t) + 1.
    """
    t, y, x = _grid(run, tau)
    t = start + t
    h = t + y - (run.height - 1) // 2
    w = t + x - (run.width - 1) // 2
    return Placement(np.stack([t, h, w]), float(t.max()) + 1)


def place_tie(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """RoPE-Tie (Su, 2024), 3-D: both spatial axes are stretched to the span of the longer side.

    With M = max(H, W): t = s + τ(f), h = s − 1 + (y + 1)·(M + 1)/(H + 1),
    w = s − 1 + (x + 1)·(M + 1)/(W + 1). Every frame is centred in the same open interval
    (s − 1, s + M) on both spatial axes, so the text before (at s − 1) and after (at s + M for a
    short video) sit symmetrically around it whatever the aspect ratio. For a square grid this
    equals M-RoPE. The text after continues at ⌊largest position⌋ + 1.
    """
    t, y, x = _grid(run, tau)
    m = max(run.height, run.width)
    h = start - 1 + (y + 1) * (m + 1) / (run.height + 1)
    w = start - 1 + (x + 1) * (m + 1) / (run.width + 1)
    ids = np.stack([start + t, h, w])
    return Placement(ids, math.floor(float(ids.max())) + 1)


def place_tad(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """TAD-RoPE (TC-LLaVA): every token keeps its global 1-D index on h and w; the t axis holds
    a temporal index shared by all tokens of a frame, s + τ(f). The text after continues at
    s + T·H·W, as in 1-D RoPE.
    """
    n = run.num_tokens
    flat = start + np.arange(n, dtype=np.float64)
    t, _, _ = _grid(run, tau)
    return Placement(np.stack([start + t, flat, flat]), start + n)


PLACEMENT_RULES: dict[str, PlacementRule] = {
    "flat": place_flat,
    "mrope": place_mrope,
    "diagonal": place_diagonal,
    "tie": place_tie,
    "tad": place_tad,
}

SPATIALLY_SYMMETRIC = {"diagonal", "tie"}
"""Placement rules whose frames are centred or square-spanning (VideoRoPE Table 1's symmetry)."""


def position_ids(layout: Layout, rule: str, tau: TemporalIndex = unit_spacing) -> np.ndarray:
    """Position ids of a whole layout: float64 array of shape (3, L), rows (t, h, w)."""
    place = PLACEMENT_RULES[rule]
    chunks: list[np.ndarray] = []
    start = 0.0
    for run in layout.runs:
        if isinstance(run, TextRun):
            text = start + np.arange(run.length, dtype=np.float64)
            chunks.append(np.tile(text, (3, 1)))
            start += run.length
        else:
            placed = place(run, start, tau)
            chunks.append(placed.ids)
            start = placed.next_start
    return np.concatenate(chunks, axis=1) if chunks else np.zeros((3, 0), dtype=np.float64)


def as_exact(ids: np.ndarray) -> np.ndarray:
    """int64 when every position is integral (the common case), else the float64 array."""
    return ids.astype(np.int64) if np.array_equal(ids, np.round(ids)) else ids
