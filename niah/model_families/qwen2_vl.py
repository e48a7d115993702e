"""Qwen2-VL and Qwen2.5-VL: one contiguous video run between vision_start and vision_end, M-RoPE
(Qwen2.5-VL: its temporal index aligned to absolute time, tokens_per_second from the config), each
pair of frames merged into one set of tokens by the vision tower's temporal patch."""

from __future__ import annotations

from niah.model_families.base import CLIP_MEAN, CLIP_STD, TINY_TEXT, Family, VideoMarkup, tiny_rope, tiny_vision

RANK = 0  # the registry's order: README's family table, --help

def qwen_markup(start: str, image: str, video: str, end: str) -> VideoMarkup:
    """Qwen's video markup under the vision tokens a family names: one run between `start` and
    `end`, or (Qwen3-VL's layout) each frame its own run with "<t seconds>" before it."""
    return VideoMarkup(start, video, end, lambda i, t: (f"<{t:.1f} seconds>{start}", end),
                       summary="one run per frame, timestamp text before each",
                       token_ids={"image_token_id": image, "video_token_id": video, "vision_start_token_id": start,
                                  "vision_end_token_id": end},
                       special_tokens=(start, end, image, video))  # fmt: skip


MARKUPS = {"qwen": qwen_markup("<|vision_start|>", "<|image_pad|>", "<|video_pad|>", "<|vision_end|>")}

PROCESSORS = {"preprocessor_config.json": {
    "image_processor_type": "Qwen2VLImageProcessor", "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "min_pixels": 3136, "max_pixels": 12845056}}  # fmt: skip
"""Qwen2-VL-7B-Instruct's and Qwen2.5-VL-7B-Instruct's processor file, as the hub ships it."""


def tiny_qwen2_vl(mrope_section: tuple[int, int, int], theta: float):
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(text_config=dict(TINY_TEXT, rope_parameters=tiny_rope(mrope_section, theta)),
                         vision_config=tiny_vision(embed_dim=16, mlp_ratio=1))  # fmt: skip


def tiny_qwen2_5_vl(mrope_section: tuple[int, int, int], theta: float):
    from transformers import Qwen2_5_VLConfig

    vision = tiny_vision(out_hidden_size=32, intermediate_size=32, tokens_per_second=2, window_size=56,
                         fullatt_block_indexes=[0])  # fmt: skip
    return Qwen2_5_VLConfig(text_config=dict(TINY_TEXT, rope_parameters=tiny_rope(mrope_section, theta)),
                            vision_config=vision)  # fmt: skip


FAMILIES = [
    Family("qwen2_vl", "Qwen2-VL", "Qwen2VLForConditionalGeneration", "m-rope", frame_runs=False, deepstack=False,
           tiny=tiny_qwen2_vl, processor_configs=PROCESSORS),
    Family("qwen2_5_vl", "Qwen2.5-VL", "Qwen2_5_VLForConditionalGeneration", "m-rope-time", frame_runs=False,
           deepstack=False, tiny=tiny_qwen2_5_vl, processor_configs=PROCESSORS),
]  # fmt: skip
