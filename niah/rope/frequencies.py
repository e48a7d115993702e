"""Frequency allocation: which axis drives each rotary frequency pair (numpy; no torch).

Notation: head_dim d, pairs i = 0..d/2-1 with inverse frequency θ^(−2i/d) (0 = highest
frequency). Pair i rotates dims i and i + d/2 (the "rotate_half" convention of transformers'
Qwen models). An allocation is an int array `axis_of_pair` of shape (d/2,) with values
AXIS_T = 0, AXIS_H = 1, AXIS_W = 2, or UNROTATED = -1 (angle 0: HoPE's zeroed temporal
frequencies); an axis is a row of the variant's position ids, so a variant with four coordinate
rows (VRoPE) uses 0..3. A per-head allocation (mhrope) is an array of shape (kv_heads, d/2), one
allocation per key/value head; query heads follow their KV head.

Partial rotary (Qwen3.5, GLM-4.1V): only the first `rotary_dim` = ⌊head_dim · factor⌋ dims of a
head rotate; every allocation is then formed over rotary_dim (its d here), the rest pass through.

A section (t, h, w) counts pairs per axis, as transformers' ``mrope_section``; None picks the
published proportions for any head_dim: M-RoPE [16, 24, 24] and Qwen3-VL [24, 20, 20] of 64.

Sources: transformers ``Qwen2VLRotaryEmbedding.recomposition_frequencies`` (contiguous
sections), ``Qwen3VLTextRotaryEmbedding.recomposition_frequencies`` (interleaved),
VideoRoPE's ``apply_m_modify_multimodal_rotary_pos_emb`` (h/w interleaved high, t low),
JJJYmmm/Multimodal-RoPEs at cd413b9e ``multimodal_ropes/freq_allocation/`` (MM-RoPE, GRAPE,
mhrope), johncaged/VRoPE ``vrope.py:150`` (pair i on coordinate i mod 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

AXIS_T, AXIS_H, AXIS_W, UNROTATED = 0, 1, 2, -1
AXIS_NAMES = {AXIS_T: "t", AXIS_H: "h", AXIS_W: "w", UNROTATED: "none"}

Section = Sequence[int]


def _pairs(head_dim: int) -> int:
    if head_dim % 2 or head_dim < 2:
        raise ValueError(f"head_dim must be even and positive, got {head_dim}")
    return head_dim // 2


def mrope_section(head_dim: int) -> tuple[int, int, int]:
    """M-RoPE's [16, 24, 24] proportions for any head_dim: a quarter of the pairs to t."""
    n = _pairs(head_dim)
    hw = (n - n // 4) // 2
    return (n - 2 * hw, hw, hw)


def interleaved_section(head_dim: int) -> tuple[int, int, int]:
    """Qwen3-VL's [24, 20, 20] proportions for any head_dim."""
    n = _pairs(head_dim)
    hw = round(n * 20 / 64)
    return (n - 2 * hw, hw, hw)


def _check(section: Section, head_dim: int) -> tuple[int, int, int]:
    if len(section) != 3:
        raise ValueError(f"section {list(section)} must be 3 counts (t, h, w)")
    t, h, w = (int(v) for v in section)
    if t + h + w != _pairs(head_dim) or min(t, h, w) < 0:
        raise ValueError(f"section {list(section)} must be 3 non-negative counts summing to {head_dim // 2}")
    return t, h, w


def alloc_single(head_dim: int, section: Section | None = None) -> np.ndarray:
    """1-D RoPE: every pair is driven by t (1-D layouts have equal rows, so any axis would do)."""
    return np.full(_pairs(head_dim), AXIS_T)


def alloc_sectioned(head_dim: int, section: Section | None = None) -> np.ndarray:
    """M-RoPE: contiguous sections, t on the highest frequencies, then h, then w."""
    t, h, w = _check(section or mrope_section(head_dim), head_dim)
    return np.array([AXIS_T] * t + [AXIS_H] * h + [AXIS_W] * w)


def alloc_interleaved(head_dim: int, section: Section | None = None) -> np.ndarray:
    """Qwen3-VL: h on pairs 1, 4, …, 3·h−2; w on 2, 5, …, 3·w−1; t on the rest."""
    t, h, w = _check(section or interleaved_section(head_dim), head_dim)
    axis = np.full(_pairs(head_dim), AXIS_T)
    axis[1 : 3 * h : 3] = AXIS_H
    axis[2 : 3 * w : 3] = AXIS_W
    return axis


def _hw_interleaved(count: int) -> list[int]:
    return [AXIS_H if i % 2 == 0 else AXIS_W for i in range(count)]


def alloc_temporal_low(head_dim: int, section: Section | None = None) -> np.ndarray:
    """VideoRoPE: h/w interleaved (h even) on the high frequencies, t on the section[0] lowest."""
    t, h, w = _check(section or mrope_section(head_dim), head_dim)
    return np.array(_hw_interleaved(h + w) + [AXIS_T] * t)


def alloc_temporal_high(head_dim: int, section: Section | None = None) -> np.ndarray:
    """VideoRoPE's ablation: t on the section[0] highest frequencies, then h/w interleaved."""
    t, h, w = _check(section or mrope_section(head_dim), head_dim)
    return np.array([AXIS_T] * t + _hw_interleaved(h + w))


def alloc_temporal_zero(head_dim: int, section: Section | None = None) -> np.ndarray:
    """HoPE: VideoRoPE's allocation with the temporal (lowest) pairs left unrotated."""
    axis = alloc_temporal_low(head_dim, section)
    axis[axis == AXIS_T] = UNROTATED
    return axis


def alloc_tad_dual(head_dim: int, section: Section | None = None) -> np.ndarray:
    """TAD-RoPE: even pairs by the global index (h row), odd pairs by the frame index (t row)."""
    return np.array([AXIS_H if i % 2 == 0 else AXIS_T for i in range(_pairs(head_dim))])


def alloc_cycle(head_dim: int, section: Section | None = None, pattern: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """Pair i on axis pattern[i mod len(pattern)], whatever the section: GRAPE's interleaved
    planes (0, 1, 2; freq_allocation/grape.py:406-419), MM-RoPE's meta components of eight pairs
    (0, 0, 1, 2, 1, 2, 1, 2; freq_allocation/mmrope.py:11-24), VRoPE's four coordinates
    (0, 1, 2, 3; vrope.py:150)."""
    return np.array([pattern[i % len(pattern)] for i in range(_pairs(head_dim))])


def alloc_per_head(head_dim: int, section: Section | None = None, heads: Sequence[int] = (2, 3, 3),
                   kv_heads: int = 8) -> np.ndarray:  # fmt: skip
    """mhrope (freq_allocation/mhrope.py:11-46): heads[0] KV heads rotate every pair by t, the next
    heads[1] by h, the next heads[2] by w, and the remaining kv_heads − Σheads heads not at all.
    Shape (kv_heads, d/2)."""
    if sum(heads) > kv_heads or min(heads) < 0:
        raise ValueError(f"head counts {list(heads)} must be non-negative and sum to at most {kv_heads} KV heads")
    rows = [AXIS_T] * heads[0] + [AXIS_H] * heads[1] + [AXIS_W] * heads[2]
    rows += [UNROTATED] * (kv_heads - len(rows))
    return np.repeat(np.array(rows)[:, None], _pairs(head_dim), axis=1)


def rotary_dim(head_dim: int, partial_rotary: float = 1.0) -> int:
    """The dims of a head that rotate: ⌊head_dim · partial_rotary⌋, as transformers' rope init
    (`int(head_dim * partial_rotary_factor)`); must be even and positive."""
    if not 0 < partial_rotary <= 1:
        raise ValueError(f"partial rotary factor must be in (0, 1], got {partial_rotary:g}")
    dim = int(head_dim * partial_rotary)
    if dim < 2 or dim % 2:
        raise ValueError(f"head_dim {head_dim} × partial rotary {partial_rotary:g} = {dim} dims: must be even and ≥ 2")
    return dim


USES_SECTION = {"sectioned", "interleaved", "temporal-low", "temporal-high", "temporal-zero"}
"""The allocations that read a section (t, h, w pair counts); the others ignore it."""

Allocation = Callable[..., np.ndarray]
"""allocation(head_dim, section, **options) → axis per pair (d/2,) or per head (kv_heads, d/2)."""

ALLOCATIONS: dict[str, Allocation] = {
    "single": alloc_single,
    "sectioned": alloc_sectioned,
    "interleaved": alloc_interleaved,
    "temporal-low": alloc_temporal_low,
    "temporal-high": alloc_temporal_high,
    "temporal-zero": alloc_temporal_zero,
    "tad-dual": alloc_tad_dual,
    "cycle": alloc_cycle,
    "per-head": alloc_per_head,
}
