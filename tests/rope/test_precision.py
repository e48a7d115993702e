"""Rotary tables at long context (issue 13 item 4; "When Precision Meets Position", arXiv 2411.13476:
bf16 positions or angles break RoPE at long context). niah forms every angle in float32 from the
integer (or float64) position ids and casts only cos and sin to the model's dtype, as transformers'
rotary modules do. Checked at positions up to 434K against float64 angles, through the hf backend's
rotary module on a bf16 activation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from niah.backends.hf.rotary import VariantRotary
from niah.rope import resolve_variant, rotary_tables

LAYOUT = "text:433000,video:8x16x16,text:1000"  # 436,048 tokens, positions up to 434K
HEAD_DIM, BASE, SECTION = 128, 1e6, [16, 24, 24]  # Qwen2-VL-7B


def float64_tables(ids: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos, sin (L, d/2) from float64 positions and float64 inverse frequencies."""
    inv = BASE ** (-np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    angles = ids.astype(np.float64)[np.clip(axis, 0, None), :].T * inv  # (L, d/2)
    angles[:, axis < 0] = 0.0
    return np.cos(angles), np.sin(angles)


def float32_bound(ids: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """How far float32 angles may be from float64 ones: |θ|·2^-22 (the position·frequency product
    and the frequency rounded to float32), i.e. at most 0.1 of a token at 434K positions."""
    inv = BASE ** (-np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    return np.abs(ids.astype(np.float64)[np.clip(axis, 0, None), :].T * inv) * 2.0**-22 + 1e-6


@pytest.mark.parametrize("name", ["m-rope", "videorope"])
def test_bf16_tables_at_434k_positions_follow_float64_angles(name):
    variant = resolve_variant(name)
    ids = variant.position_ids(LAYOUT)[:, -4096:]  # the last text, the video and the text after it
    assert int(ids.min()) > 430_000 and int(ids.max()) > 432_000
    rope = {"rope_theta": BASE, "mrope_section": SECTION}
    config = SimpleNamespace(text_config=SimpleNamespace(hidden_size=1024, num_attention_heads=8, head_dim=HEAD_DIM,
                                                         rope_parameters=rope))  # fmt: skip
    rotary = VariantRotary(variant, config)
    cos16, sin16 = rotary(torch.zeros(1, dtype=torch.bfloat16), ids[:, None, :])  # (1, L, d) each
    assert cos16.dtype == torch.bfloat16
    cos32, sin32 = rotary(torch.zeros(1, dtype=torch.float32), ids[:, None, :])
    assert torch.equal(cos16, cos32.to(torch.bfloat16)) and torch.equal(sin16, sin32.to(torch.bfloat16))

    axis = variant.axis_of_pair(HEAD_DIM, SECTION)
    cos64, sin64 = float64_tables(ids.numpy(), axis)
    bound = float32_bound(ids.numpy(), axis)
    half = HEAD_DIM // 2
    assert (np.abs(cos32[0, :, :half].double().numpy() - cos64) <= bound).all()
    assert (np.abs(sin32[0, :, :half].double().numpy() - sin64) <= bound).all()
    # bf16 positions (what the bug is) miss that bound by far: the check can fail
    cos_bad, _ = rotary_tables(ids.to(torch.bfloat16), axis, HEAD_DIM, BASE)
    assert (np.abs(cos_bad[:, :half].double().numpy() - cos64) > bound).mean() > 0.1
