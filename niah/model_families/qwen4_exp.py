"""Qwen4-Exp (transformers 5.25 models/qwen4_exp): Qwen3.5-MoE's prompt, processor and positions
(interleaved M-RoPE over the share of each head its config's partial_rotary_factor names: the config
class defaults to all of it, its checkpoints' value was not reachable here; the tiny checkpoint turns
a quarter, as Qwen3.5's do), Gated DeltaNet layers mixed with attention layers
that a learned sparse indexer ("QSA") restricts: each query's indexer averages the keys in blocks
of `indexer_compress_ratio` tokens, rotates the block by its first token's position with the same
M-RoPE, and keeps the `indexer_budget` tokens of the best-scoring blocks plus the unfinished last
block (`indexed_attention` layers, a DynamicIndexedLayer cache that crops its indexer keys and
position history with its keys, so prefix reuse holds). Its per-layer n-gram embeddings (PLE) read
the prompt's token ids beside inputs_embeds (`ple_input_ids`: the video pad at vision tokens, as the
model's own forward passes them). The indexer reads the attention mask itself, so its text model
runs on transformers' own sdpa, never niah's mask-free chunked kernel. Its checkpoints' processor
files and chat template were not reachable here: Qwen3-VL's stand in, as transformers' auto
mappings give it Qwen3-VL's processor classes."""

from __future__ import annotations

from niah.model_families.base import TINY_TEXT, Family, tiny_vision
from niah.model_families.qwen3_vl import PROCESSORS, VISION

TINY_PATCH = 32
"""The tiny checkpoint's patch side (px): Qwen3-VL's 16 would make 4× the tokens, which its indexer,
a Python loop over every query in transformers, scores one by one."""

RANK = 13


def tiny_qwen4_exp(mrope_section: tuple[int, int, int], theta: float):
    """One Gated DeltaNet layer carrying the per-layer n-gram embedding, then one indexed attention
    layer whose indexer keeps 64 tokens of 4-token blocks (under a quarter of a 3-frame prompt: 287 tokens);
    a quarter of head_dim 32 rotates, interleaved [2, 1, 1], whatever section is asked; 2 residual
    streams (hyper-connections); 4 experts, 2 per token."""
    from transformers import Qwen4ExpConfig

    rope = {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": theta, "mrope_interleaved": True,
            "partial_rotary_factor": 0.25}  # fmt: skip
    text = dict(TINY_TEXT, head_dim=32, rope_parameters=rope, layer_types=["linear_attention", "indexed_attention"],
                linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2, linear_num_value_heads=2,
                num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=16,
                hc_count=2, hc_lowrank=8, ple_layer_ids=[1], ple_embed_dim=32, heads_per_ngram=2,
                ngram_vocab_size_base=500, make_ngram_vocab_size_divisible_by=8, split_ngram_parts=1,
                indexer_n_heads=2, indexer_kv_heads=1, indexer_head_dim=16, indexer_budget=64,
                indexer_compress_ratio=4, eos_token_id=2)  # fmt: skip
    return Qwen4ExpConfig(text_config=text, vision_config=tiny_vision(**dict(VISION, patch_size=TINY_PATCH)))


FAMILIES = [
    Family("qwen4_exp", "Qwen4-Exp", "Qwen4ExpForConditionalGeneration", "mrope-interleaved", frame_runs=True,
           deepstack=False, video_pixels_per_video=True, tiny=tiny_qwen4_exp, processor_configs=PROCESSORS,
           tiny_pixels={"patch_size": TINY_PATCH},
           ids_argument="ple_input_ids", text_attention="sdpa-stock", min_transformers="5.25",
           why_min_transformers="before 5.25 its indexed layers were 'qwen_sparse_attention' layers, another "
                                "cache and config than the 5.25 model niah reproduces",
           why_text_attention="its sparse indexer reads the attention mask, which niah's chunked kernel never builds"),
]  # fmt: skip
