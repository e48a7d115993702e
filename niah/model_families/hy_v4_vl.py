"""Tencent HY-V4-VL (transformers 5.25 models/hy_v4_vl): a video as one run of video pads; each
frame's merged rows end with a learned newline vector inside the vision features, so a frame is
H rows of W + 1 tokens; positions by the `hy4-block` rule (every frame a block of max(H, W + 1)
positions on the diagonal, text after the last block), interleaved (t, h, w) over the 32 pairs of
MLA's 64-dim rotated slice, which its attention pairs as adjacent dims from Qwen3-VL-style tables.

Its text model: MLA attention in every layer, each restricted per query by a DeepSeek-style sparse
indexer (top `index_topk` keys; "shared" layers reuse the previous indexer's choice), with learned
attention sinks, so it runs on transformers' eager attention only. Its cache (DynamicIndexedLayer)
crops its latents and indexer keys together, so prefix reuse holds. Its processor resizes a frame
by its own rule (never scaled up; a newline token a row counts in the budget), takes one frame per
temporal patch of 16-px patches and lays them out in raster order for its merger, whose 2 × 2
convolution reshapes each frame's patches to (H, W). Its checkpoints' processor files and chat
template were not reachable here: its processor classes' defaults stand in."""

from __future__ import annotations

from niah.model_families.base import Family

RANK = 14

PROCESSORS = {
    "preprocessor_config.json": {
        "image_processor_type": "HYV4VLImageProcessor", "patch_size": 16, "temporal_patch_size": 1, "merge_size": 2,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
        "size": {"shortest_edge": 262144, "longest_edge": 4194304}},
    "video_preprocessor_config.json": {
        "video_processor_type": "HYV4VLVideoProcessor", "patch_size": 16, "temporal_patch_size": 1,
        "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "min_frames": 2,
        "max_frames": 1024, "size": {"shortest_edge": 4096, "longest_edge": 33554432},
        "max_image_size": {"longest_edge": 1048576}},
}  # fmt: skip
"""HYV4VLImageProcessor's and HYV4VLVideoProcessor's class defaults (transformers 5.25), standing in
for the checkpoints' files."""


def tiny_hy_v4_vl(mrope_section: tuple[int, int, int], theta: float):
    """Two MLA layers (2 heads; a 16-dim rotated slice: 8 pairs in the asked section), the first with
    its own indexer keeping 64 keys a query, the second sharing its choice; a dense then a 4-expert
    MLP; 2 hyper-connection streams; a 1-block vision tower whose merger adds the newline vector."""
    from transformers import HYV4VLConfig

    text = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
                moe_intermediate_size=16, vocab_size=400, max_position_embeddings=100_000, n_routed_experts=4,
                num_experts_per_tok=2, n_shared_experts=1, q_lora_rank=16, kv_lora_rank=16, qk_nope_head_dim=16,
                qk_rope_head_dim=2 * sum(mrope_section), v_head_dim=16, index_topk=64, index_head_dim=32,
                index_n_heads=2, indexer_types=["full", "shared"], hc_mult=2, pad_token_id=0, bos_token_id=1,
                eos_token_id=2, rope_parameters={"rope_type": "default", "rope_theta": theta,
                                                 "mrope_section": list(mrope_section)})  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1, out_hidden_size=32,
                  patch_size=16, spatial_merge_size=2, max_image_size=512)  # fmt: skip
    return HYV4VLConfig(text_config=text, vision_config=vision)


FAMILIES = [
    Family("hy_v4_vl", "HY-V4-VL", "HYV4VLForConditionalGeneration", "hy4-block", frame_runs=False, deepstack=False,
           video_pixels_per_video=True, vision="raster", tiny=tiny_hy_v4_vl, processor_configs=PROCESSORS,
           text_attention="eager", why_text_attention="its attention sinks and sparse indexer run on eager only",
           resize="hy4", row_newline=True),
]  # fmt: skip
