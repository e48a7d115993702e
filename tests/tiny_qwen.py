"""Tiny random Qwen2-VL / Qwen2.5-VL / Qwen3-VL configs for tests (no download, built in code)."""

from __future__ import annotations

TEXT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    intermediate_size=48,
    vocab_size=400,
    max_position_embeddings=100_000,
)


def tiny_config(family: str, mrope_section=(2, 3, 3), theta: float = 10_000.0):
    """A tiny config of a family ('qwen2_vl', 'qwen2_5_vl', 'qwen3_vl'): head_dim 16, 8 pairs."""
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig, Qwen3VLConfig

    rope = {"rope_type": "default", "mrope_section": list(mrope_section), "rope_theta": theta}
    vision = dict(depth=1, hidden_size=32, num_heads=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    if family == "qwen2_vl":
        vision.update(embed_dim=16, mlp_ratio=1)
        return Qwen2VLConfig(text_config=dict(TEXT, rope_parameters=rope), vision_config=vision)
    if family == "qwen2_5_vl":
        vision.update(
            out_hidden_size=32, intermediate_size=32, tokens_per_second=2, window_size=56, fullatt_block_indexes=[0]
        )
        return Qwen2_5_VLConfig(text_config=dict(TEXT, rope_parameters=rope), vision_config=vision)
    if family == "qwen3_vl":
        rope["mrope_interleaved"] = True
        vision.update(
            out_hidden_size=32,
            intermediate_size=32,
            patch_size=16,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0],
        )
        return Qwen3VLConfig(text_config=dict(TEXT, head_dim=16, rope_parameters=rope), vision_config=vision)
    raise ValueError(family)
