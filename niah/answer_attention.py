"""Attention at the answer: where the prompt's last position looks, per layer and head, summed per frame.

`niah run --attention` arms a `Recorder` for the one forward that computes a prompt's last token
(`recording`); each attention layer of the hf backend (niah.backends.hf.attention) and of the tiny
model (niah.train.model.Block) then hands it that token's rotated query and every key it attends
to (`Recorder.observe`), and the recorder keeps, per layer and head, the softmax weight summed
over each frame's tokens and over the text tokens. One query row per layer, computed in float32
from the keys the layer already holds: no (L, L) matrix is formed, and the layer's own output is
left as it was (the answers do not change).

This module knows frames by their index in the prompt, never what they show: grouping frames into
needle, look-alikes and haystack is the sweep's (niah.sweep.attention).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class FrameAttention:
    """One sample's attention at the answer. `layers`: the indices of the attention layers recorded
    (a hybrid model's linear-attention layers have none); `mass` (layers, heads, frames + 1)
    float32: the weight the last prompt position gives each frame's tokens, the last column the
    text tokens (every other prompt token); each (layer, head) row sums to 1."""

    layers: tuple[int, ...]
    mass: np.ndarray


class Recorder:
    """Collects one forward's attention at its last query position.

    `token_frame` (L,) int: the frame (its index in the prompt's frames, 0..frames−1) each prompt
    token belongs to, −1 for a text token; L is the prompt's length in tokens."""

    def __init__(self, token_frame: torch.Tensor, frames: int):
        self.frames = frames
        self.columns = torch.where(token_frame < 0, frames, token_frame).long()  # text → the last column
        self._mass: dict[int, torch.Tensor] = {}

    def observe(self, layer: int | None, query: torch.Tensor, keys: torch.Tensor, scale: float) -> None:
        """query (H, D): the last prompt token's rotated query; keys (H_kv, L, D): every key it
        attends to (grouped-query heads shared in order, as SDPA's enable_gqa); `scale` the
        layer's softmax scale. `layer` None: the next index in call order."""
        heads, kv_heads, length = query.shape[0], keys.shape[0], keys.shape[1]
        if length != len(self.columns):
            raise ValueError(f"the layer attends to {length} keys but the prompt has {len(self.columns)} tokens")
        grouped = query.float().view(kv_heads, heads // kv_heads, -1)  # (H_kv, G, D): keys are not repeated
        logits = torch.einsum("kgd,kld->kgl", grouped, keys.float()).reshape(heads, length)
        weights = torch.softmax(logits * scale, dim=-1)  # (H, L)
        mass = torch.zeros(heads, self.frames + 1, device=weights.device)
        mass.index_add_(1, self.columns.to(weights.device), weights)
        self._mass[len(self._mass) if layer is None else int(layer)] = mass.cpu()

    def result(self) -> FrameAttention:
        """What was observed, layers in order (ValueError when no layer was)."""
        if not self._mass:
            raise ValueError("no attention layer reported to the recorder")
        layers = tuple(sorted(self._mass))
        return FrameAttention(layers, torch.stack([self._mass[i] for i in layers]).numpy())


_ACTIVE: ContextVar[Recorder | None] = ContextVar("niah_answer_attention", default=None)


@contextmanager
def recording(recorder: Recorder | None) -> Iterator[Recorder | None]:
    """Within the block, attention layers report to `recorder` (None: to nothing)."""
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)


def active() -> Recorder | None:
    """The recorder armed for the forward now running, or None."""
    return _ACTIVE.get()


def token_frames(counts: list[tuple[int, bool]]) -> tuple[torch.Tensor, int]:
    """(token_frame (L,), frames) for a prompt given as runs of (tokens, is a frame): each frame run
    is the next frame, each text run −1."""
    parts, frame = [], 0
    for n, is_frame in counts:
        parts.append(torch.full((n,), frame if is_frame else -1, dtype=torch.long))
        frame += is_frame
    return torch.cat(parts), frame
