"""LLaVA-OneVision (LongVA's lineage, a Qwen2 text model, 1-D RoPE): the frames as one run of
pooled SigLIP tokens, then the model's learned image_newline vector, in place of <video>
(LlavaOnevisionProcessor). Processor file: 384-px frames with SigLIP's mean/std 0.5 (its conversion
takes the video processor of google/siglip-so400m-patch14-384; the file was not reachable here)."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, VideoMarkup

RANK = 5

MARKUPS = {
    "llava": VideoMarkup("", "<video>", "", None, trailer="image_newline",  # frames, then the newline vector
                         token_ids={"image_token_id": "<image>", "video_token_id": "<video>"},
                         special_tokens=("<video>", "<image>")),
}  # fmt: skip

PROCESSORS = {"video_preprocessor_config.json": {  # the -hf conversion: the video processor of SigLIP-so400m-384
    "video_processor_type": "LlavaOnevisionVideoProcessor", "size": {"height": 384, "width": 384},
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}}  # fmt: skip


def tiny_llava_onevision(mrope_section: tuple[int, int, int], theta: float):
    """A Qwen2 text model behind a 1-layer SigLIP on the published 384-px frames in 56-px patches
    (3 × 3 pooled tokens; the published 14-px patches give 14 × 14)."""
    from transformers import LlavaOnevisionConfig

    vision = dict(model_type="siglip_vision_model", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=32, image_size=384, patch_size=56)  # 6 × 6 patches, pooled to 3 × 3 tokens
    text = dict(TINY_TEXT, model_type="qwen2", rope_parameters={"rope_type": "default", "rope_theta": theta})
    return LlavaOnevisionConfig(text_config=text, vision_config=vision, vision_feature_layer=-1)


FAMILIES = [
    Family("llava_onevision", "LLaVA-OneVision", "LlavaOnevisionForConditionalGeneration", "vanilla",
           frame_runs=False, deepstack=False, markup="llava", vision="pooled", tiny=tiny_llava_onevision,
           processor_configs=PROCESSORS),
]  # fmt: skip
