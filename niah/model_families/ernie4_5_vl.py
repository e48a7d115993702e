"""ERNIE-4.5-VL: time on its lowest frequencies (VideoRoPE's allocation with m-rope placement, its
mrope_section ordered h, w, t), each frame's time drawn into its pixels, two frames merged into one
set of tokens, one contiguous run between VIDEO_START and VIDEO_END, and an MoE routed by token
type. Processor file: its video processor's class defaults, with the font its conversion ships
(Roboto-Regular.ttf; tiny checkpoints carry matplotlib's DejaVu Sans under that name)."""

from __future__ import annotations

from niah.model_families.base import CLIP_MEAN, CLIP_STD, TINY_TEXT, Family, VideoMarkup

RANK = 6

MARKUPS = {
    "ernie": VideoMarkup("<|VIDEO_START|>", "<|VIDEO_PLACEHOLDER|>", "<|VIDEO_END|>", None,  # one run
                         token_ids={"image_token_id": "<|IMAGE_PLACEHOLDER|>",
                                    "video_token_id": "<|VIDEO_PLACEHOLDER|>",
                                    "image_start_token_id": "<|IMAGE_START|>", "image_end_token_id": "<|IMAGE_END|>",
                                    "video_start_token_id": "<|VIDEO_START|>", "video_end_token_id": "<|VIDEO_END|>"},
                         special_tokens=("<|begin_of_sentence|>", "<|end_of_sentence|>", "<|IMAGE_START|>",
                                         "<|IMAGE_PLACEHOLDER|>", "<|IMAGE_END|>", "<|VIDEO_START|>",
                                         "<|VIDEO_PLACEHOLDER|>", "<|VIDEO_END|>")),
}  # fmt: skip

PROCESSORS = {"video_preprocessor_config.json": {  # Ernie4_5_VLMoeVideoProcessor's defaults (transformers 5.24)
    "video_processor_type": "Ernie4_5_VLMoeVideoProcessor", "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
    "size": {"shortest_edge": 299 * 28 * 28, "longest_edge": 1196 * 28 * 28}, "draw_on_frames": True,
    "font": "Roboto-Regular.ttf"}}  # fmt: skip

TINY_PIXELS = {"size": {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280}}
"""A tiny checkpoint's change: ERNIE's published minimum (299 × 28² pixels) scales every small frame
up to about 300 tokens."""


def tiny_ernie(mrope_section: tuple[int, int, int], theta: float):
    """Text and vision experts routed by token type (4 experts, 2 per token, in both layers, so that
    routing reaches the last token's logits), sections [3, 3, 2] in its own (h, w, t) order, a
    1-layer vision tower and the resampler merging two frames."""
    from transformers import Ernie4_5_VLMoeConfig

    rope = {"rope_type": "default", "rope_theta": theta, "mrope_section": [3, 3, 2]}  # h, w, t: ERNIE's order
    text = dict(TINY_TEXT, head_dim=16, rope_parameters=rope, moe_intermediate_size=[16, 16], moe_k=2,
                moe_num_experts=4, moe_num_shared_experts=0, mlp_layer_types=["sparse", "sparse"])  # fmt: skip
    vision = dict(depth=1, hidden_size=32, num_heads=2, intermediate_size=32, patch_size=14, spatial_merge_size=2,
                  temporal_merge_size=2)  # fmt: skip
    return Ernie4_5_VLMoeConfig(text_config=text, vision_config=vision)


FAMILIES = [
    Family("ernie4_5_vl_moe", "ERNIE-4.5-VL", "Ernie4_5_VLMoeForConditionalGeneration",
           "videorope:delta=1,layout=mrope,alloc=low", frame_runs=False, deepstack=False, markup="ernie",
           pair_layout="adjacent", vision="ernie", section_order=(2, 0, 1), timed_frames=True,
           routes_by_modality=True, tiny=tiny_ernie, processor_configs=PROCESSORS, tiny_pixels=TINY_PIXELS),
]  # fmt: skip
