"""NVIDIA Cosmos3-Omni (its Reasoner): Qwen3-VL's architecture under its own model_type
(transformers 5.25 models/cosmos3_omni: "Model arch is identical to Qwen3-VL"), with Qwen3-VL's
image and video processor classes (transformers' auto mappings) and tokenizer class. Its
checkpoints' processor files and chat template were not reachable here: Qwen3-VL's stand in."""

from __future__ import annotations

from niah.model_families.base import Family
from niah.model_families.qwen3_vl import PROCESSORS, tiny_text_and_vision

RANK = 7


def tiny_cosmos3_omni(mrope_section: tuple[int, int, int], theta: float):
    from transformers import Cosmos3OmniConfig

    text, vision = tiny_text_and_vision(mrope_section, theta)
    return Cosmos3OmniConfig(text_config=dict(text, model_type="qwen3_vl_text"),
                             vision_config=dict(vision, model_type="qwen3_vl_vision"))  # fmt: skip


FAMILIES = [
    Family("cosmos3_omni", "Cosmos3-Omni", "Cosmos3OmniForConditionalGeneration", "mrope-interleaved",
           frame_runs=True, deepstack=True, video_pixels_per_video=True, tiny=tiny_cosmos3_omni,
           processor_configs=PROCESSORS),
]  # fmt: skip
