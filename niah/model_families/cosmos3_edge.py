"""NVIDIA Cosmos3-Edge (transformers 5.25 models/cosmos3_edge): Qwen2-VL's model class and
`get_rope_index` with every frame split into its own one-frame video (its processor writes
"<t seconds>" and a vision_start ... vision_end span per frame), Qwen3-VL's interleaved rotary
([24, 20, 20] at head_dim 128), a Llama text model, and a SigLIP2 tower fed one frame per temporal
patch with each patch's pixels channel-last. Processor file: the defaults of transformers'
Cosmos3EdgeVideoProcessor (the checkpoints' own files were not reachable here)."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, tiny_rope

RANK = 8

PROCESSORS = {"video_preprocessor_config.json": {  # Cosmos3EdgeVideoProcessor's own defaults (transformers 5.25)
    "video_processor_type": "Cosmos3EdgeVideoProcessor", "patch_size": 16, "temporal_patch_size": 1,
    "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "fps": 2, "min_frames": 4,
    "max_frames": 768, "size": {"shortest_edge": 4096, "longest_edge": 25165824}}}  # fmt: skip


def tiny_cosmos3_edge(mrope_section: tuple[int, int, int], theta: float):
    """A 2-layer Llama text model (head_dim 16) behind a 1-layer SigLIP2 tower of 16-px patches."""
    from transformers import Cosmos3EdgeConfig

    text = dict(TINY_TEXT, head_dim=16, rope_parameters=tiny_rope(mrope_section, theta))
    vision = dict(hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, patch_size=16,
                  num_patches=64, spatial_merge_size=2)  # fmt: skip
    return Cosmos3EdgeConfig(text_config=text, vision_config=vision, projector_hidden_size=32)


FAMILIES = [
    Family("cosmos3_edge", "Cosmos3-Edge", "Cosmos3EdgeForConditionalGeneration", "mrope-interleaved",
           frame_runs=True, deepstack=False, video_pixels_per_video=True, vision="channels-last",
           tiny=tiny_cosmos3_edge, processor_configs=PROCESSORS),
]  # fmt: skip
