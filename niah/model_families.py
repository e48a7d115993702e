"""Supported transformers video-LLM families: a registry keyed by the config's model_type.

A leaf module (no torch, no transformers): the hf backend loads checkpoints by it, and
`niah rope list` names each family's native variant from it without starting either.

Each family says which RoPE variant is the checkpoint's own (the one that reproduces the
unmodified model), how its prompt lays out a video (one run, or one run per frame with a
timestamp between, as Qwen3-VL), and whether its vision tower has deepstack outputs. Qwen3.5
rotates a quarter of each head (partial rotary, read from the config) and mixes linear-attention
layers (Gated DeltaNet) with full attention; its processor is Qwen3-VL's. GLM-4.1V and GLM-4.5V
lay frames out as Qwen3-VL does (one run per frame, a whole-second timestamp after each) in their
own tokens (niah.backends.hf.prompt.VIDEO_MARKUPS), rotate half of each head with contiguous
[8, 12, 12] sections (Qwen2-VL's m-rope), and GLM-4.1V pairs adjacent dims where GLM-4.5V and the
Qwen models pair dim i with dim i + d/2 (niah.rope.tables.PAIR_LAYOUTS). InternVL3's `-hf`
checkpoints (a Qwen2 text model, 1-D RoPE) show each frame as one fixed-size tile, labelled
"FrameN:", and take the 3-D variants through the swapped rotary module like the others;
LLaVA-OneVision (LongVA's lineage, Qwen2) shows the frames as one run of pooled SigLIP tokens
followed by a learned newline vector. ERNIE-4.5-VL puts time on its lowest frequencies (VideoRoPE's
allocation, m-rope placement, its mrope_section ordered h, w, t), draws each frame's time into
its pixels, merges two frames into one set of tokens and routes its MoE by token type.
"""

from __future__ import annotations

from dataclasses import dataclass

from niah.errors import NiahError


@dataclass(frozen=True)
class Family:
    name: str
    title: str  # the checkpoints' name, e.g. "Qwen2-VL"
    model_class: str  # transformers' class AutoModelForImageTextToText loads
    native_variant: str  # e.g. "m-rope"; m-rope-time gets tokens_per_second from the config
    frame_runs: bool  # True: each frame its own run with a timestamp text before it (Qwen3-VL)
    deepstack: bool  # the vision tower returns extra embeddings added in early LLM layers
    video_pixels_per_video: bool = False  # its video processor's pixel limits bound frames × pixels of a video
    markup: str = "qwen"  # the video's tokens in the prompt: a key of niah.backends.hf.prompt.VIDEO_MARKUPS
    pair_layout: str = "half"  # which dims a rotary pair turns: a key of niah.rope.tables.PAIR_LAYOUTS
    vision: str = "patches"  # how frames reach the vision tower: a key of niah.backends.hf.vision.ENCODERS
    section_order: tuple[int, int, int] = (0, 1, 2)  # the config's mrope_section entries that are niah's (t, h, w)
    timed_frames: bool = False  # its processor draws each frame's time into the pixels: encoded per (frame, time)
    routes_by_modality: bool = False  # its MoE picks experts by token type (moe_mm_token_type_ids)


MODEL_FAMILIES: dict[str, Family] = {
    "qwen2_vl": Family("qwen2_vl", "Qwen2-VL", "Qwen2VLForConditionalGeneration", "m-rope", frame_runs=False,
                       deepstack=False),
    "qwen2_5_vl": Family("qwen2_5_vl", "Qwen2.5-VL", "Qwen2_5_VLForConditionalGeneration", "m-rope-time",
                         frame_runs=False, deepstack=False),
    "qwen3_vl": Family("qwen3_vl", "Qwen3-VL", "Qwen3VLForConditionalGeneration", "mrope-interleaved", frame_runs=True,
                       deepstack=True, video_pixels_per_video=True),
    "qwen3_vl_moe": Family("qwen3_vl_moe", "Qwen3-VL-MoE", "Qwen3VLMoeForConditionalGeneration", "mrope-interleaved",
                           frame_runs=True, deepstack=True, video_pixels_per_video=True),
    "qwen3_5": Family("qwen3_5", "Qwen3.5", "Qwen3_5ForConditionalGeneration", "mrope-interleaved", frame_runs=True,
                      deepstack=False, video_pixels_per_video=True),
    "qwen3_5_moe": Family("qwen3_5_moe", "Qwen3.5-MoE", "Qwen3_5MoeForConditionalGeneration", "mrope-interleaved",
                          frame_runs=True, deepstack=False, video_pixels_per_video=True),
    "glm4v": Family("glm4v", "GLM-4.1V", "Glm4vForConditionalGeneration", "m-rope", frame_runs=True, deepstack=False,
                    video_pixels_per_video=True, markup="glm", pair_layout="adjacent"),
    "glm4v_moe": Family("glm4v_moe", "GLM-4.5V", "Glm4vMoeForConditionalGeneration", "m-rope", frame_runs=True,
                        deepstack=False, video_pixels_per_video=True, markup="glm"),
    "internvl": Family("internvl", "InternVL3 (-hf)", "InternVLForConditionalGeneration", "vanilla", frame_runs=True,
                       deepstack=False, markup="internvl", vision="tiles"),
    "llava_onevision": Family("llava_onevision", "LLaVA-OneVision", "LlavaOnevisionForConditionalGeneration", "vanilla",
                              frame_runs=False, deepstack=False, markup="llava", vision="pooled"),
    "ernie4_5_vl_moe": Family("ernie4_5_vl_moe", "ERNIE-4.5-VL", "Ernie4_5_VLMoeForConditionalGeneration",
                              "videorope:delta=1,layout=mrope,alloc=low", frame_runs=False, deepstack=False,
                              markup="ernie", pair_layout="adjacent", vision="ernie", section_order=(2, 0, 1),
                              timed_frames=True, routes_by_modality=True),
}


def family_of(model_type: str, where: str) -> Family:
    if model_type not in MODEL_FAMILIES:
        raise NiahError(f"model '{where}' is a {model_type}: niah supports {', '.join(MODEL_FAMILIES)} "
                        f"({', '.join(f.title for f in MODEL_FAMILIES.values())})")  # fmt: skip
    return MODEL_FAMILIES[model_type]
