"""InternVL3's `-hf` checkpoints: a Qwen2 text model (1-D RoPE) behind InternViT; each frame one
fixed-size tile, "FrameN: <img>" + frame + "</img>", one per line, in place of the template's
<video> (InternVLProcessor); the 3-D variants reach it through the swapped rotary module like the
others. Processor file: the -hf conversion's (transformers' convert_internvl_weights_to_hf)."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, VideoMarkup

RANK = 4

MARKUPS = {
    "internvl": VideoMarkup("", "<video>", "", lambda i, t: (f"{chr(10) if i else ''}Frame{i + 1}: <img>", "</img>"),
                            run=("<img>", "</img>"),  # InternVLProcessor: frames joined by newlines
                            summary="one run per frame, a \"FrameN:\" label before each",
                            token_ids={"image_token_id": "<IMG_CONTEXT>"},
                            special_tokens=("<img>", "</img>", "<IMG_CONTEXT>")),
}  # fmt: skip

PROCESSORS = {"preprocessor_config.json": {
    "image_processor_type": "GotOcr2ImageProcessorFast", "size": {"height": 448, "width": 448},
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}}  # fmt: skip


def tiny_internvl(mrope_section: tuple[int, int, int], theta: float):
    """A Qwen2 text model behind a 1-layer InternViT on the published 448-px tiles in 56-px patches
    (16 tokens each after the pixel shuffle; the published 14-px patches give 256)."""
    from transformers import InternVLConfig

    vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                  image_size=[448, 448], patch_size=[56, 56])  # the published tile, 8 × 8 patches: 4 × 4 tokens
    text = dict(TINY_TEXT, model_type="qwen2", rope_parameters={"rope_type": "default", "rope_theta": theta})
    return InternVLConfig(text_config=text, vision_config=vision)


FAMILIES = [
    Family("internvl", "InternVL3 (-hf)", "InternVLForConditionalGeneration", "vanilla", frame_runs=True,
           deepstack=False, markup="internvl", vision="tiles", tiny=tiny_internvl, processor_configs=PROCESSORS),
]  # fmt: skip
