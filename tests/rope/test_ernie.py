"""ERNIE-4.5-VL's RoPE in niah's terms (issue 15): transformers' Ernie4_5_VLMoe positions and
rotation equal `videorope:delta=1,layout=mrope,alloc=low` (m-rope placement, h/w interleaved on the
high frequencies, t on the lowest) with its mrope_section [h, w, t] read as niah's (t, h, w), in the
adjacent pair layout: the native variant niah.model_families names for it.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from niah.backends.hf.rotary import VariantRotary
from niah.rope import resolve_variant

SECTION = [3, 3, 2]  # ERNIE's order: h, w, t pairs (published: [22, 22, 20] of 64)
VARIANT = "videorope:delta=1,layout=mrope,alloc=low"


def ernie_config():
    from transformers import Ernie4_5_VLMoeConfig

    rope = {"rope_type": "default", "rope_theta": 1e4, "mrope_section": SECTION}
    return Ernie4_5_VLMoeConfig(text_config=dict(hidden_size=32, num_attention_heads=2, num_key_value_heads=1,
                                                 head_dim=16, rope_parameters=rope))  # fmt: skip


def test_ernie_positions_are_m_rope_placement_of_merged_frames():
    """get_rope_index of text, a 4-frame video (temporal merge 2: two units of 4 × 6 tokens), text
    equals niah's positions for the layout text:3, video:2x4x6, text:4."""
    from transformers.models.ernie4_5_vl_moe.modeling_ernie4_5_vl_moe import Ernie4_5_VLMoeModel

    config = ernie_config()
    model = SimpleNamespace(config=config, get_vision_position_ids=lambda *a, **k:
                            Ernie4_5_VLMoeModel.get_vision_position_ids(None, *a, **k))  # fmt: skip
    types = [0] * 3 + [2] * (2 * 4 * 6) + [0] * 4
    ids, _ = Ernie4_5_VLMoeModel.get_rope_index(model, torch.zeros(1, len(types), dtype=torch.long),
                                                mm_token_type_ids=torch.tensor([types]),
                                                video_grid_thw=torch.tensor([[4, 8, 12]]))  # fmt: skip
    ours = resolve_variant(VARIANT).position_ids("text:3,video:2x4x6,text:4")
    assert torch.equal(ids[:, 0], ours.to(ids.dtype))
    assert not torch.equal(ids[:, 0], resolve_variant("videorope").position_ids("text:3,video:2x4x6,text:4").long())


def test_ernie_rotation_is_videorope_low_allocation_in_adjacent_pairs():
    from transformers.models.ernie4_5_vl_moe import modeling_ernie4_5_vl_moe as m

    config = ernie_config()
    own = m.Ernie4_5_VLMoeTextRotaryEmbedding(config.text_config)
    ids = resolve_variant(VARIANT).position_ids("text:3,video:2x4x6,text:4")[:, None, :]
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(1, 2, ids.shape[-1], 16, generator=g), torch.randn(1, 1, ids.shape[-1], 16, generator=g)
    x = torch.zeros(1)
    expected = m.apply_rotary_pos_emb(q, k, *own(x, ids))
    h, w, t = SECTION
    niah_config = SimpleNamespace(text_config=SimpleNamespace(hidden_size=32, num_attention_heads=2, head_dim=16,
                                  rope_parameters={"rope_theta": 1e4, "mrope_section": [t, h, w]}))  # fmt: skip
    ours = m.apply_rotary_pos_emb(q, k, *VariantRotary(resolve_variant(VARIANT), niah_config, "adjacent")(x, ids))
    assert torch.allclose(ours[0], expected[0], atol=1e-6) and torch.allclose(ours[1], expected[1], atol=1e-6)
    # the section in ERNIE's own order, read as (t, h, w), turns other pairs: the check can fail
    niah_config.text_config.rope_parameters["mrope_section"] = SECTION
    wrong = m.apply_rotary_pos_emb(q, k, *VariantRotary(resolve_variant(VARIANT), niah_config, "adjacent")(x, ids))
    assert not torch.allclose(wrong[0], expected[0], atol=1e-3)
