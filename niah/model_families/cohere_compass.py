"""Cohere's CohereCompass (transformers 5.25 models/cohere_compass, the North vision models):
Qwen3-VL's prompt, positions, vision tower and deepstack under Cohere's own vision tokens
(<|VISION_START|> ... <|VISION_END|>, CohereCompassProcessor), a Cohere-2 text model whose
sliding-window layers rotate with Qwen3-VL's interleaved sections and whose global layers have no
rotary at all (rope_parameters keyed by layer type, None for full_attention). Processor file: the
defaults of transformers' CohereCompassVideoProcessor, which are Qwen3VLVideoProcessor's (the
checkpoints' own files were not reachable here)."""

from __future__ import annotations

from niah.model_families.base import Family
from niah.model_families.qwen2_vl import qwen_markup
from niah.model_families.qwen3_vl import tiny_text_and_vision

RANK = 10

MARKUPS = {"cohere": qwen_markup("<|VISION_START|>", "<|IMAGE_PAD|>", "<|VIDEO_PAD|>", "<|VISION_END|>")}

PROCESSORS = {"video_preprocessor_config.json": {  # CohereCompassVideoProcessor's own defaults (transformers 5.25)
    "video_processor_type": "CohereCompassVideoProcessor", "patch_size": 16, "temporal_patch_size": 2,
    "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "fps": 2, "min_frames": 4,
    "max_frames": 768, "size": {"shortest_edge": 131072, "longest_edge": 786432}}}  # fmt: skip


def tiny_cohere_compass(mrope_section: tuple[int, int, int], theta: float):
    """Qwen3-VL's tiny text and vision settings in a Cohere-2 text model: a sliding-window first
    layer (6 tokens) that rotates and a global second layer that does not."""
    from transformers import CohereCompassConfig

    text, vision = tiny_text_and_vision(mrope_section, theta)
    rope = text.pop("rope_parameters")
    text.update(layer_types=["sliding_attention", "full_attention"], sliding_window=6,
                rope_parameters={"sliding_attention": rope, "full_attention": None})  # fmt: skip
    return CohereCompassConfig(text_config=text, vision_config=vision)


FAMILIES = [
    Family("cohere_compass", "CohereCompass", "CohereCompassForConditionalGeneration", "mrope-interleaved",
           frame_runs=True, deepstack=True, video_pixels_per_video=True, markup="cohere", tiny=tiny_cohere_compass,
           processor_configs=PROCESSORS, min_transformers="5.25",
           why_min_transformers="its rotary was Qwen3-VL's interleaving from 5.25 on; 5.17 pre-rotated h and w and "
                                "put t on the lowest pairs ([22, 22, 20]), which niah's native variant does not "
                                "reproduce"),
]  # fmt: skip
