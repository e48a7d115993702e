"""Qwen3-VL and Qwen3-VL-MoE: each frame its own run, "<t seconds>" before it, inside the template's
own vision_start ... vision_end; t/h/w interleaved over the frequencies; deepstack embeddings from
the vision tower added in early text layers; its video processor budgets pixels per video."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, tiny_rope, tiny_vision

RANK = 1

PROCESSORS = {
    "preprocessor_config.json": {
        "image_processor_type": "Qwen2VLImageProcessorFast", "patch_size": 16, "temporal_patch_size": 2,
        "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "size": {"shortest_edge": 65536, "longest_edge": 16777216}},
    "video_preprocessor_config.json": {
        "video_processor_type": "Qwen3VLVideoProcessor", "patch_size": 16, "temporal_patch_size": 2,
        "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "fps": 2, "min_frames": 4,
        "max_frames": 768, "size": {"shortest_edge": 4096, "longest_edge": 25165824}},
}  # fmt: skip
"""Qwen3-VL-8B-Instruct's processor files, as the hub ships them."""

VISION = dict(out_hidden_size=32, intermediate_size=32, patch_size=16, num_position_embeddings=64)
"""A tiny Qwen3-VL-style vision tower (Qwen3.5 shares it, without deepstack)."""


def tiny_text_and_vision(mrope_section: tuple[int, int, int], theta: float) -> tuple[dict, dict]:
    """The text and vision configs of a tiny Qwen3-VL (Cosmos3-Omni's too): head_dim 16, interleaved
    sections, one deepstack layer."""
    text = dict(TINY_TEXT, head_dim=16, rope_parameters=tiny_rope(mrope_section, theta, mrope_interleaved=True))
    return text, tiny_vision(**VISION, deepstack_visual_indexes=[0])


def _tiny(moe: bool):
    def build(mrope_section: tuple[int, int, int], theta: float):
        from transformers import Qwen3VLConfig, Qwen3VLMoeConfig

        text, vision = tiny_text_and_vision(mrope_section, theta)
        if not moe:
            return Qwen3VLConfig(text_config=text, vision_config=vision)
        experts = dict(num_local_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, decoder_sparse_step=1)
        return Qwen3VLMoeConfig(text_config=dict(text, **experts), vision_config=vision)

    return build


FAMILIES = [
    Family("qwen3_vl", "Qwen3-VL", "Qwen3VLForConditionalGeneration", "mrope-interleaved", frame_runs=True,
           deepstack=True, video_pixels_per_video=True, tiny=_tiny(False), processor_configs=PROCESSORS),
    Family("qwen3_vl_moe", "Qwen3-VL-MoE", "Qwen3VLMoeForConditionalGeneration", "mrope-interleaved",
           frame_runs=True, deepstack=True, video_pixels_per_video=True, tiny=_tiny(True),
           processor_configs=PROCESSORS),
]  # fmt: skip
