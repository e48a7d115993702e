"""Pair layouts (niah.rope.tables.PAIR_LAYOUTS): which dims a rotary pair turns.

Checked two ways: against rotation as complex multiplication (pair i of x as the complex number
x[a] + i·x[b], turned by e^(iθ_i)), written here from the definition; and against transformers'
own GLM rotary modules and apply functions, for GLM-4.1V (adjacent pairs) and GLM-4.5V (halves).
"""

from __future__ import annotations

import pytest
import torch

from niah.backends.hf.rotary import VariantRotary
from niah.rope import resolve_variant
from niah.rope.tables import PAIR_LAYOUTS

D = 16


def complex_rotation(x: torch.Tensor, angles: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """x (..., D) with pair i = dims pairs[i] turned by angles (..., D/2), as complex products."""
    out = x.clone().double()
    for i, (a, b) in enumerate(pairs):
        turn = torch.polar(torch.ones_like(angles[..., i]).double(), angles[..., i].double())  # e^(iθ)
        z = torch.complex(x[..., a].double(), x[..., b].double()) * turn
        out[..., a], out[..., b] = z.real, z.imag
    return out


@pytest.mark.parametrize(("name", "pairs"), [("half", [(i, i + D // 2) for i in range(D // 2)]),
                                             ("adjacent", [(2 * i, 2 * i + 1) for i in range(D // 2)])])  # fmt: skip
def test_each_layout_turns_its_pairs(name, pairs):
    g = torch.Generator().manual_seed(0)
    x, angles = torch.randn(3, 5, D, generator=g, dtype=torch.float64), torch.randn(3, 5, D // 2, generator=g)
    layout = PAIR_LAYOUTS[name]
    cos = layout.arrange(torch.cat((angles.cos(), angles.cos()), -1).double())  # tables come in the half layout
    sin = layout.arrange(torch.cat((angles.sin(), angles.sin()), -1).double())
    turned = x * cos + layout.rotate(x) * sin
    assert torch.allclose(turned, complex_rotation(x, angles, pairs), atol=1e-12)


@pytest.mark.parametrize(("family", "layout"), [("glm4v", "adjacent"), ("glm4v_moe", "half")])
def test_m_rope_in_the_family_layout_equals_transformers_glm_rotation(family, layout):
    """The rotated q and k through transformers' own GLM rotary module and apply function, partial
    rotary 0.5 with [2, 3, 3] sections: niah's tables in the family's layout give the same."""
    import importlib

    from niah.backends.hf.tiny import tiny_config

    config = tiny_config(family)
    module = importlib.import_module(f"transformers.models.{family}.modeling_{family}")
    own = getattr(module, f"{'Glm4v' if family == 'glm4v' else 'Glm4vMoe'}TextRotaryEmbedding")(config.text_config)
    ids = resolve_variant("m-rope").position_ids("text:3,video:2x4x6,text:4")[:, None, :]  # (3, 1, L)
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 2, ids.shape[-1], 32, generator=g), torch.randn(1, 1, ids.shape[-1], 32, generator=g)
    x = torch.zeros(1)
    expected = module.apply_rotary_pos_emb(q, k, *own(x, ids))
    ours = module.apply_rotary_pos_emb(q, k, *VariantRotary(resolve_variant("m-rope"), config, layout)(x, ids))
    assert torch.equal(ours[0], expected[0]) and torch.equal(ours[1], expected[1])
    other = "half" if layout == "adjacent" else "adjacent"  # the other layout turns other dims: the check can fail
    wrong = module.apply_rotary_pos_emb(q, k, *VariantRotary(resolve_variant("m-rope"), config, other)(x, ids))
    assert not torch.allclose(wrong[0], expected[0], atol=1e-3)


def test_per_kv_head_tables_turn_glm41v_adjacent_pairs_as_its_own_apply():
    """A per-head variant (mhrope) on GLM-4.1V: niah's per-KV-head rotation in the adjacent layout
    equals GLM-4.1V's apply_rotary_pos_emb given each KV head's table."""
    from transformers.models.glm4v import modeling_glm4v

    from niah.backends.hf.rotary import apply_per_kv_head

    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(1, 4, 5, 32, generator=g), torch.randn(1, 2, 5, 32, generator=g)
    half = torch.randn(1, 2, 5, 8, generator=g)
    cos = PAIR_LAYOUTS["adjacent"].arrange(torch.cat((half.cos(), half.cos()), -1))  # (1, 2 KV heads, 5, 16)
    sin = PAIR_LAYOUTS["adjacent"].arrange(torch.cat((half.sin(), half.sin()), -1))
    q_out, k_out = apply_per_kv_head(q, k, cos, sin, PAIR_LAYOUTS["adjacent"])
    for h in range(2):
        qe, ke = modeling_glm4v.apply_rotary_pos_emb(q[:, 2 * h : 2 * h + 2], k[:, h : h + 1], cos[:, h], sin[:, h])
        assert torch.allclose(q_out[:, 2 * h : 2 * h + 2], qe) and torch.allclose(k_out[:, h : h + 1], ke)
