"""Position ids: a token layout → positions of shape (N, L), one row per coordinate axis
(N = 3 for (t, h, w); VRoPE has four, p0–p3).

Two independent pieces compose here:

- a **temporal index** τ(f): the temporal coordinate of temporal unit f of a video run, relative
  to the run's start (unit spacing, VideoRoPE's δ·f, or Qwen2.5-VL's absolute time
  ⌊f·tokens_per_second·seconds⌋);
- a **placement rule**: where the tokens of a vision run go given the running position s (the
  next free position after the text before it) and τ, and where the text after the run
  continues.

Text tokens always take s, s+1, ... on every axis. A rule may take keyword arguments (a
variant's options, e.g. CircleRoPE's radius). Notation: a vision run is a (T, H, W)
grid with indices f, y, x in row-major (t, y, x) order; positions are float64 in the library
and integral wherever the rule and τ make them so.

Sources: transformers' Qwen2-VL / Qwen2.5-VL / Qwen3-VL ``get_rope_index`` (M-RoPE, time
alignment), VideoRoPE (arXiv 2502.05173, Sec. 3 and its reference ``get_rope_index``: diagonal
layout, text after a video at max(t) + 1), TC-LLaVA (arXiv 2409.03206, TAD-RoPE), Su 2024
("Transformer upgrade path 17", RoPE-Tie), JJJYmmm/Multimodal-RoPEs at cd413b9e
(`multimodal_ropes/pos_design/`: spatial reset, MM-RoPE scales, V2PE, CircleRoPE; file and line
in each rule), johncaged/VRoPE at 6a7adbc8 (`vrope.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
    """Positions of one vision run: `ids` (N, T·H·W) float64 and where the next text starts."""

    ids: np.ndarray
    next_start: float


PlacementRule = Callable[..., Placement]
"""rule(run, start, tau, **options) → Placement."""


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


def place_mrope(run: VisionRun, start: float, tau: TemporalIndex, spatial_scale: tuple[float, float] = (1.0, 1.0),
                spatial_reset: bool = False) -> Placement:  # fmt: skip
    """M-RoPE (Qwen2-VL): token (f, y, x) → (s + τ(f), s + y, s + x).

    The text after continues at the largest position of the run + 1, i.e.
    s + max(τ(T-1), H-1, W-1) + 1 (Qwen's design and transformers 4.x; transformers 5.x uses
    s + max(H, W) regardless of T, which agrees only when τ(T-1) < max(H, W)).

    `spatial_scale` (a_h, a_w) multiplies y and x (MM-RoPE's position_scale,
    pos_design/mmrope.py:115-129); `spatial_reset` drops the offset s from h and w, so every
    frame's grid starts at 0 (OmniRoPE/IL-RoPE, pos_design/omnirope.py:95-115; mhrope,
    pos_design/mrope_i.py:122-132). Either way the text after continues at
    s + max(τ(T-1), a_h·(H-1), a_w·(W-1)) + 1.
    """
    t, y, x = _grid(run, tau)
    y, x = y * spatial_scale[0], x * spatial_scale[1]
    offset = 0.0 if spatial_reset else start
    ids = np.stack([start + t, offset + y, offset + x])  # (3, T·H·W)
    return Placement(ids, start + max(t.max(), y.max(), x.max()) + 1)


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


def place_block(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """HY-V4-VL's block layout: frame f starts a block of B = max(H, W) positions, t = s + B·τ(f),
    h = t + y, w = t + x (diagonal, not centred); the text after continues at the largest
    position + 1 = s + B·τ(T−1) + B. W counts every token of a row: HY-V4-VL ends each merged
    row with a newline token, so its runs are W + 1 wide (transformers' HYV4VLModel
    ``get_vision_position_ids``: B = max(H, W + 1)); a host without one gets B = max(H, W).
    No time scaling: the blocks, not τ, space the frames (τ = f)."""
    t, y, x = _grid(run, tau)
    t = start + t * max(run.height, run.width)
    ids = np.stack([t, t + y, t + x])
    return Placement(ids, float(ids.max()) + 1)


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


def place_v2pe(run: VisionRun, start: float, tau: TemporalIndex, visual_stride: float = 16.0) -> Placement:
    """V2PE (Ge et al., arXiv 2412.09616), 1-D: every frame (or image) of n tokens spans
    `visual_stride` positions. With ℓ = s − 1 the last position before it, token k = 1..n of the
    frame sits at ℓ + visual_stride·k/n on every axis and the next frame or text starts at
    ⌈ℓ + visual_stride⌉ + 1 (pos_design/v2pe.py:86-101: small_stride = visual_stride / n,
    last_record_pos_id = ceil(last visual position)). Upstream forms these in float32 and ceils
    the float32 value; niah forms them exactly (float64), so they agree to float32 rounding.
    """
    n = run.height * run.width
    chunks, last = [], start - 1
    for _ in range(run.frames):
        chunks.append(last + visual_stride * np.arange(1, n + 1, dtype=np.float64) / n)
        last = math.ceil(last + visual_stride)
    flat = np.concatenate(chunks)
    return Placement(np.tile(flat, (3, 1)), last + 1)


_TEXT_DIRECTION_U = np.array([-1.0, 1.0, 0.0]) / math.sqrt(2)  # ⟂ (1, 1, 1), in the x-y plane
_TEXT_DIRECTION_V = np.array([-1.0, -1.0, 2.0]) / math.sqrt(6)  # (1, 1, 1)/√3 × u


def place_circle(run: VisionRun, start: float, tau: TemporalIndex, radius: float = 10.0, alpha: float = 0.5,
                 method: str = "circle", move_to_origin: bool = True, move_to_positive: float | None = None,
                 dff_rate: float = 1.0) -> Placement:  # fmt: skip
    """CircleRoPE (Wang et al., arXiv 2505.16416) as pos_design/circlerope.py:106-137, 190-415.

    One frame's grid (x, y) (centred on its middle when `move_to_origin`) is mapped onto a circle
    of `radius`: angle θ = α·θ_norm + (1−α)·θ_index, θ_norm the atan2(y, x) of each token
    rescaled to [0, 2π] over the frame, θ_index = 2π·(y·W + x)/(H·W) ('circle'; 'no_circle'
    keeps (x, y)); the result is blended with the unmapped grid, (1 − dff_rate)·circle +
    dff_rate·grid, and turned into the plane perpendicular to the text direction (1, 1, 1):
    (w, h, t) = a·u + b·v with u = (−1, 1, 0)/√2, v = (−1, −1, 2)/√6. `move_to_positive`, an
    offset k (None: off), shifts every coordinate by |min| + k (upstream's True is k = 1,
    'auto' k = 0: circlerope.py:234-239). Frame f adds s + τ(f) to all three axes; the text after continues
    at the largest position + 1.
    """
    height, width = run.height, run.width
    y, x = (g.astype(np.float64).reshape(-1) for g in np.meshgrid(np.arange(height), np.arange(width), indexing="ij"))
    if move_to_origin:
        x, y = x - (width - 1) / 2, y - (height - 1) / 2
    grid = np.stack([x, y])  # (2, H·W)
    if method == "circle":
        theta = np.arctan2(y, x)
        span = theta.max() - theta.min()
        normed = (theta - theta.min()) / span * (2 * math.pi) if span > 0 else theta
        indexed = np.arange(height * width, dtype=np.float64) / (height * width) * (2 * math.pi)
        angle = alpha * normed + (1 - alpha) * indexed
        mapped = np.stack([radius * np.cos(angle), radius * np.sin(angle)])
    else:
        mapped = grid
    a, b = (1 - dff_rate) * mapped + dff_rate * grid
    coords = np.outer(_TEXT_DIRECTION_U, a) + np.outer(_TEXT_DIRECTION_V, b)  # (3, H·W): rows w, h, t
    if move_to_positive is not None:
        coords = coords + abs(coords.min()) + move_to_positive
    frame = coords[::-1]  # rows t, h, w
    times = start + np.repeat(tau(run), height * width)  # (T·H·W,)
    ids = np.tile(frame, (1, run.frames)) + times
    return Placement(ids, float(ids.max()) + 1)


def place_vrope(run: VisionRun, start: float, tau: TemporalIndex) -> Placement:
    """VRoPE (Liu et al., arXiv 2502.11664) as vrope.py:106-154 (johncaged/VRoPE): four
    coordinates per token, the grid's diagonal sums seen from its four corners,
    p0 = y + x, p1 = y + (W−1−x), p2 = (H−1−y) + x, p3 = (H−1−y) + (W−1−x), plus s + f·(H+W−1) for
    frame f; the next frame or text starts at s + T·(H+W−1). Text takes s, s+1, ... on all four.
    """
    height, width = run.height, run.width
    y, x = (g.reshape(-1) for g in np.meshgrid(np.arange(height), np.arange(width), indexing="ij"))
    corners = np.stack([y + x, y + (width - 1 - x), (height - 1 - y) + x, (height - 1 - y) + (width - 1 - x)])
    span = height + width - 1
    ids = np.tile(corners.astype(np.float64), (1, run.frames)) + start
    ids += np.repeat(np.arange(run.frames, dtype=np.float64) * span, height * width)
    return Placement(ids, start + run.frames * span)


PLACEMENT_RULES: dict[str, PlacementRule] = {
    "flat": place_flat,
    "mrope": place_mrope,
    "diagonal": place_diagonal,
    "block": place_block,
    "tie": place_tie,
    "tad": place_tad,
    "v2pe": place_v2pe,
    "circle": place_circle,
    "vrope": place_vrope,
}

ONE_D_PLACEMENTS = {"flat", "tad", "v2pe"}
"""Placement rules that keep one sequence index per token (VideoRoPE Table 1's 3-D structure: no)."""

SPATIALLY_SYMMETRIC: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "diagonal": lambda o: True,
    "tie": lambda o: True,
    "vrope": lambda o: True,
    "circle": lambda o: o.get("method", "circle") == "circle" and o.get("dff_rate", 1.0) < 1,
}
"""Placement rules whose frames sit symmetrically to the text around them (VideoRoPE Table 1's
symmetry), given the rule's options: centred or square-spanning grids, VRoPE's four corners,
CircleRoPE's circle when it is not blended back into the grid (dff_rate < 1)."""


def position_ids(layout: Layout, rule: str, tau: TemporalIndex = unit_spacing, options: Mapping[str, Any] | None = None,
                 rows: int = 3) -> np.ndarray:  # fmt: skip
    """Position ids of a whole layout: float64 array of shape (rows, L), one row per axis."""
    place = PLACEMENT_RULES[rule]
    chunks: list[np.ndarray] = []
    start = 0.0
    for run in layout.runs:
        if isinstance(run, TextRun):
            text = start + np.arange(run.length, dtype=np.float64)
            chunks.append(np.tile(text, (rows, 1)))
            start += run.length
        else:
            placed = place(run, start, tau, **(options or {}))
            chunks.append(placed.ids)
            start = placed.next_start
    return np.concatenate(chunks, axis=1) if chunks else np.zeros((rows, 0), dtype=np.float64)


def as_exact(ids: np.ndarray, truncate: bool = False) -> np.ndarray:
    """int64 when every position is integral (the common case), else the float64 array;
    `truncate` stores int64 rounded toward zero, as an implementation that keeps positions in an
    integer tensor does (upstream's mrope_i.py:36-42, 152)."""
    if truncate:
        return np.trunc(ids).astype(np.int64)
    return ids.astype(np.int64) if np.array_equal(ids, np.round(ids)) else ids
