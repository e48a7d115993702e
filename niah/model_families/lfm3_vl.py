"""LiquidAI LFM3-VL (transformers 5.25 models/lfm3_vl): an LFM3 text model of short-convolution,
sliding-window and global attention layers (1-D positions) behind a vision tower of convolution and
attention layers over each frame's 16-px patches. Its processor (Lfm3VlProcessor) writes Qwen3-VL's
video prompt: each frame its own run, "<t seconds>" before vision_start + pads + vision_end.

Its rotary differs by layer type (Lfm3Config's defaults): the sliding-window layers rotate the
default way at θ 1e4, the global layers by transformers' 'proportional' type at θ 1e6, where only
the highest-frequency half of each head's pairs rotates (niah.backends.hf.rotary reads both). Its
sliding windows drop keys, so it runs with --no-prefix-reuse. Processor files: transformers' auto
mapping (Qwen2VLImageProcessor, Qwen3VLVideoProcessor) with Qwen3-VL's published settings, whose
16-px patches, 2-frame temporal patches and 2 × 2 merge are LFM3-VL's vision defaults; the
checkpoints' own files and chat template were not reachable here."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family
from niah.model_families.qwen3_vl import PROCESSORS

RANK = 12

LAYER_TYPES = ["conv", "sliding_attention", "full_attention"]
"""The tiny text model: one layer of each of LFM3's types (its published pattern repeats conv,
conv, global, then conv, sliding, ...)."""


def tiny_lfm3_vl(mrope_section: tuple[int, int, int], theta: float):
    """LFM3 text (head_dim 16, a 6-token sliding window, the published per-type rotary with the
    sliding layers at `theta`) behind a 3-layer tower (two convolution layers, one attention)."""
    from transformers import Lfm3VlConfig

    rope = {"sliding_attention": {"rope_type": "default", "rope_theta": theta},
            "full_attention": {"rope_type": "proportional", "rope_theta": 1e6, "partial_rotary_factor": 0.5}}
    text = dict(TINY_TEXT, model_type="lfm3", head_dim=16, num_hidden_layers=len(LAYER_TYPES),
                layer_types=LAYER_TYPES, sliding_window=6, conv_L_cache=3, rope_parameters=rope)  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2,
                  num_key_value_heads=2, patch_size=16, spatial_merge_size=2, temporal_patch_size=2)  # fmt: skip
    return Lfm3VlConfig(text_config=text, vision_config=vision, projector_hidden_size=32)


FAMILIES = [
    Family("lfm3_vl", "LFM3-VL", "Lfm3VlForConditionalGeneration", "vanilla", frame_runs=True, deepstack=False,
           video_pixels_per_video=True, vision="video-features", tiny=tiny_lfm3_vl, processor_configs=PROCESSORS),
]  # fmt: skip
