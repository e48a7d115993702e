"""GLM-4.1V and GLM-4.5V: each frame begin_of_image + frame + end_of_image + its whole seconds,
inside the template's begin_of_video ... end_of_video (Glm4vProcessor); half of each head rotates
with contiguous [8, 12, 12] sections (Qwen2-VL's m-rope); GLM-4.1V pairs adjacent dims, GLM-4.5V
dim i with i + d/2. Processor files: the defaults of transformers' Glm4vVideoProcessor (the
checkpoints' own files were not reachable here)."""

from __future__ import annotations

from niah.model_families.base import CLIP_MEAN, CLIP_STD, TINY_TEXT, Family, VideoMarkup, tiny_rope, tiny_vision

RANK = 3

MARKUPS = {
    "glm": VideoMarkup("<|begin_of_video|>", "<|video|>", "<|end_of_video|>",  # Glm4vProcessor: int(timestamp)
                       lambda i, t: ("<|begin_of_image|>", f"<|end_of_image|>{int(t)}"),
                       run=("<|begin_of_image|>", "<|end_of_image|>"),
                       summary="one run per frame, whole-second timestamp after each",
                       token_ids={"image_token_id": "<|image|>", "video_token_id": "<|video|>",
                                  "image_start_token_id": "<|begin_of_image|>",
                                  "image_end_token_id": "<|end_of_image|>",
                                  "video_start_token_id": "<|begin_of_video|>",
                                  "video_end_token_id": "<|end_of_video|>"},
                       special_tokens=("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
                                       "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
                                       "<|end_of_video|>", "<|image|>", "<|video|>")),
}  # fmt: skip

PROCESSORS = {"video_preprocessor_config.json": {  # Glm4vVideoProcessor's own defaults (transformers 5.24)
    "video_processor_type": "Glm4vVideoProcessor", "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "fps": 2,
    "size": {"shortest_edge": 12544, "longest_edge": 47040000}}}  # fmt: skip


def _tiny(moe: bool):
    def build(mrope_section: tuple[int, int, int], theta: float):
        """As published: half of each head rotating (head_dim 32: 8 of 16 pairs, contiguous); GLM-4.5V's
        first layer dense, the second 4 routed experts (2 per token) and a shared one."""
        from transformers import Glm4vConfig, Glm4vMoeConfig

        vision = tiny_vision(out_hidden_size=64, intermediate_size=32, image_size=112)
        text = dict(TINY_TEXT, hidden_size=64,  # head_dim 64 / 2 heads = 32
                    rope_parameters=tiny_rope(mrope_section, theta, partial_rotary_factor=0.5))  # fmt: skip
        if not moe:
            return Glm4vConfig(text_config=text, vision_config=vision)
        experts = dict(n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, n_shared_experts=1,
                       first_k_dense_replace=1)  # fmt: skip
        return Glm4vMoeConfig(text_config=dict(text, **experts), vision_config=vision)

    return build


FAMILIES = [
    Family("glm4v", "GLM-4.1V", "Glm4vForConditionalGeneration", "m-rope", frame_runs=True, deepstack=False,
           video_pixels_per_video=True, markup="glm", pair_layout="adjacent", tiny=_tiny(False),
           processor_configs=PROCESSORS),
    Family("glm4v_moe", "GLM-4.5V", "Glm4vMoeForConditionalGeneration", "m-rope", frame_runs=True, deepstack=False,
           video_pixels_per_video=True, markup="glm", tiny=_tiny(True), processor_configs=PROCESSORS),
]  # fmt: skip
