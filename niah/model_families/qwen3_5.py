"""Qwen3.5 and Qwen3.5-MoE: Qwen3-VL's prompt and processor; a quarter of each head rotates
(partial rotary, read from the config); linear-attention layers (Gated DeltaNet) mixed with full
attention, whose recurrent states niah snapshots for prefix reuse. Its checkpoints' own processor
files were not reachable here: Qwen3-VL's values stand in for them (transformers' auto mappings
give it Qwen3-VL's processor classes)."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, tiny_vision
from niah.model_families.qwen3_vl import PROCESSORS, VISION

RANK = 2


def _tiny(moe: bool):
    def build(mrope_section: tuple[int, int, int], theta: float):
        """As published: half linear-attention layers, a quarter of each head rotating (head_dim 32:
        4 of its 16 pairs, interleaved [2, 1, 1], whatever section is asked)."""
        from transformers import Qwen3_5Config, Qwen3_5MoeConfig

        rope = {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": theta, "mrope_interleaved": True,
                "partial_rotary_factor": 0.25}  # fmt: skip
        text = dict(TINY_TEXT, head_dim=32, rope_parameters=rope, layer_types=["linear_attention", "full_attention"],
                    linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2, linear_num_value_heads=2)
        vision = tiny_vision(**VISION)
        if not moe:
            return Qwen3_5Config(text_config=text, vision_config=vision)
        experts = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                       shared_expert_intermediate_size=16)  # fmt: skip
        return Qwen3_5MoeConfig(text_config=dict(text, **experts), vision_config=vision)

    return build


FAMILIES = [
    Family("qwen3_5", "Qwen3.5", "Qwen3_5ForConditionalGeneration", "mrope-interleaved", frame_runs=True,
           deepstack=False, video_pixels_per_video=True, tiny=_tiny(False), processor_configs=PROCESSORS),
    Family("qwen3_5_moe", "Qwen3.5-MoE", "Qwen3_5MoeForConditionalGeneration", "mrope-interleaved", frame_runs=True,
           deepstack=False, video_pixels_per_video=True, tiny=_tiny(True), processor_configs=PROCESSORS),
]  # fmt: skip
