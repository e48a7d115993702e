"""Rotary tables and rotation (torch): cos and sin per token from position ids and an allocation.

Pair i rotates dims i and i + d/2 (the "rotate_half" convention of transformers' Qwen models),
turning by position_ids[axis_of_pair[i]] · θ^(−2i/d); see niah.rope.frequencies for allocations.
Models that pair adjacent dims instead (GLM-4.1V) take the same tables rearranged (PAIR_LAYOUTS).
Kept apart from the allocation rules so that listing and printing variants never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from niah.rope.frequencies import UNROTATED


def inverse_frequencies(head_dim: int, base: float) -> torch.Tensor:
    """θ^(−2i/d) for i = 0..d/2−1, float32, shape (d/2,), computed exactly as transformers does."""
    return 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def rotary_tables(
    position_ids: torch.Tensor,
    axis_of_pair: np.ndarray,
    head_dim: int,
    base: float,
    dtype: torch.dtype = torch.float32,
    inv_freq: torch.Tensor | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token cos and sin of shape (..., L, head_dim) for position_ids of shape (N, ..., L),
    N coordinate rows; with a per-head allocation `axis_of_pair` (K, d/2): (..., K, L, head_dim).

    Pair i turns by position_ids[axis_of_pair[i]] · inv_freq[i] (default θ^(−2i/d)); unrotated
    pairs get cos 1, sin 0; cos and sin are multiplied by `scale` (YaRN's attention factor). The
    angle is formed in float32 like transformers' rotary modules, so that tables built with a
    model's own allocation equal the model's bit for bit, and only cos and sin take `dtype`.
    """
    if inv_freq is None:
        inv_freq = inverse_frequencies(head_dim, base)
    inv_freq = inv_freq.to(position_ids.device)  # (d/2,)
    freqs = position_ids[..., None].float() * inv_freq  # (N, ..., L, d/2)
    axis = np.asarray(axis_of_pair)
    per_head = axis.ndim == 2  # then (..., K, L, d/2)
    picked = torch.stack([_pick(freqs, row) for row in axis], dim=-3) if per_head else _pick(freqs, axis)
    cos, sin = picked.cos(), picked.sin()
    if scale != 1.0:
        cos, sin = cos * scale, sin * scale
    return torch.cat((cos, cos), dim=-1).to(dtype), torch.cat((sin, sin), dim=-1).to(dtype)


def _pick(freqs: torch.Tensor, axis_of_pair: np.ndarray) -> torch.Tensor:
    """Angles (..., L, d/2): pair i from row axis_of_pair[i] of freqs (N, ..., L, d/2), 0 if unrotated."""
    axis = torch.as_tensor(axis_of_pair, device=freqs.device)
    picked = torch.gather(freqs, 0, axis.clamp(min=0).expand(1, *freqs.shape[1:]))[0]
    return picked.masked_fill(axis == UNROTATED, 0.0)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) → (−x2, x1) over the two halves of the last dim."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotate_adjacent(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) → (−x1, x0, −x3, x2, ...): each adjacent pair turned a quarter."""
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def _interleave(table: torch.Tensor) -> torch.Tensor:
    """A table in the half layout (…, d) → the adjacent one: entry i of the first half to dims 2i, 2i + 1."""
    return table[..., : table.shape[-1] // 2].repeat_interleave(2, dim=-1)


@dataclass(frozen=True)
class PairLayout:
    """Which dims a rotary pair turns: `arrange` maps a table from `rotary_tables` (the half
    layout) to this one, `rotate` is the quarter turn the model applies (x·cos + rotate(x)·sin)."""

    arrange: Callable[[torch.Tensor], torch.Tensor]
    rotate: Callable[[torch.Tensor], torch.Tensor]


PAIR_LAYOUTS: dict[str, PairLayout] = {
    "half": PairLayout(lambda table: table, rotate_half),  # pair i = dims (i, i + d/2): Qwen, GLM-4.5V
    "adjacent": PairLayout(_interleave, rotate_adjacent),  # pair i = dims (2i, 2i + 1): GLM-4.1V's rotate_half_llm
}


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q and k of shape (..., L, head_dim) by tables of shape (L, head_dim) (broadcast)."""
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
