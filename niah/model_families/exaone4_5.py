"""LG EXAONE 4.5 and LLaVA-OneVision-1.5 (transformers 5.25: one model class, Exaone4_5_Model, under
two vision towers): Qwen2-VL's prompt (Qwen2VLProcessor: one contiguous video run between
vision_start and vision_end), 1-D text positions (its get_rope_index refuses 3-D ones).
EXAONE 4.5: Qwen2.5-VL's vision tower and an EXAONE-4 text model whose sliding-window layers rotate
and whose global layers (every 4th) use no rotary at all (Exaone4Attention). LLaVA-OneVision-1.5:
a RICE ViT (2-D patches, a class token per frame) and a Qwen3 text model. Processor files: Qwen2.5-VL's
published one (EXAONE 4.5, whose tower is Qwen2.5-VL's) and the same with one frame per temporal
patch (RICE's patch embedding is 2-D); the checkpoints' own files were not reachable here."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, tiny_vision
from niah.model_families.qwen2_vl import PROCESSORS as QWEN2_VL_PROCESSORS

RANK = 9

RICE_PROCESSORS = {"preprocessor_config.json": dict(QWEN2_VL_PROCESSORS["preprocessor_config.json"],
                                                    temporal_patch_size=1)}  # fmt: skip
"""LLaVA-OneVision-1.5: Qwen2-VL's processor settings, one frame per patch (its tower's Conv2d)."""


def tiny_exaone4_5(mrope_section: tuple[int, int, int], theta: float):
    """EXAONE-4 text with a 6-token sliding window in its first layer and a global (NoPE) second
    layer, behind a 1-block Qwen2.5-VL tower with grouped-query heads."""
    from transformers import Exaone4_5_Config

    text = dict(TINY_TEXT, model_type="exaone4", sliding_window=6, layer_types=["sliding_attention", "full_attention"],
                rope_parameters={"rope_type": "default", "rope_theta": theta})  # fmt: skip
    vision = tiny_vision(out_hidden_size=32, intermediate_size=32, window_size=56, fullatt_block_indexes=[0],
                         num_key_value_heads=2)  # fmt: skip
    return Exaone4_5_Config(text_config=text, vision_config=vision)


def tiny_llava_onevision1_5(mrope_section: tuple[int, int, int], theta: float):
    """A Qwen3 text model (head_dim 16) behind a 1-block RICE ViT of 14-px patches."""
    from transformers import LlavaOnevision15Config

    text = dict(TINY_TEXT, model_type="qwen3", head_dim=16, rope_parameters={"rope_type": "default",
                                                                             "rope_theta": theta})  # fmt: skip
    vision = dict(depth=1, hidden_size=32, num_heads=2, intermediate_size=32, patch_size=14, spatial_merge_size=2,
                  out_hidden_size=32)  # fmt: skip
    return LlavaOnevision15Config(text_config=text, vision_config=vision)


FAMILIES = [
    Family("exaone4_5", "EXAONE 4.5", "Exaone4_5_ForConditionalGeneration", "vanilla", frame_runs=False,
           deepstack=False, tiny=tiny_exaone4_5, processor_configs=QWEN2_VL_PROCESSORS, nope_global_layers=True),
    Family("llava_onevision1_5", "LLaVA-OneVision-1.5", "LlavaOnevision15ForConditionalGeneration", "vanilla",
           frame_runs=False, deepstack=False, tiny=tiny_llava_onevision1_5, processor_configs=RICE_PROCESSORS),
]  # fmt: skip
