"""Random checkpoints of every family niah runs (Qwen2-VL to Qwen3.5-MoE, GLM-4.1V / 4.5V,
InternVL3, LLaVA-OneVision) built in code (no download).

`save_checkpoint(dir, config)` writes a checkpoint dir (config, optionally random weights, a
byte-level tokenizer with the families' special tokens and a chat template, the family's processor configs)
that `--model hf:DIR` loads through the same code path as a real checkpoint.

- `save_tiny_checkpoint(dir, family)`: for tests and CPU benchmarks; head_dim 16 (8 frequency
  pairs), mrope_section (2, 3, 3), weights saved.
- `qwen2_vl_7b_config()`: Qwen2-VL-7B-Instruct's published architecture, saved without weights
  for `--random-weights` GPU benchmarks (the same compute as the real weights).
"""

from __future__ import annotations

from pathlib import Path

TEXT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    intermediate_size=48,
    vocab_size=400,
    max_position_embeddings=100_000,
)


def tiny_config(family: str, mrope_section=(2, 3, 3), theta: float = 10_000.0):
    """A tiny config of a family ('qwen2_vl', 'qwen2_5_vl', 'qwen3_vl', 'qwen3_vl_moe', 'qwen3_5',
    'qwen3_5_moe'): head_dim 16, 8 pairs; the MoEs have 4 experts of which 2 route each token, in
    every layer. Qwen3.5 as published: half linear-attention (Gated DeltaNet) layers, a quarter of
    each head rotating (head_dim 32 here: 4 of its 16 pairs, interleaved [2, 1, 1]). GLM-4.1V and
    GLM-4.5V as published: half of each head rotating (head_dim 32: 8 of 16 pairs, contiguous
    [2, 3, 3]); GLM-4.5V's first layer dense, the second 4 routed experts (2 per token) and a
    shared one. InternVL3: a Qwen2 text model (1-D RoPE) behind a 1-layer InternViT on the published
    448-px tiles in 56-px patches (16 tokens each after the pixel shuffle; the published 14-px
    patches give 256). LLaVA-OneVision: a Qwen2 text model behind a 1-layer SigLIP on the published
    384-px frames in 56-px patches (3 × 3 pooled tokens; the published 14-px patches give 14 × 14).
    ERNIE-4.5-VL: text and vision experts routed by token type (4 experts, 2 per token, in both
    layers, so that routing reaches the last token's logits), sections [3, 3, 2] in its own
    (h, w, t) order, a 1-layer vision tower and the resampler merging two frames."""
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig, Qwen3VLConfig, Qwen3VLMoeConfig

    rope = {"rope_type": "default", "mrope_section": list(mrope_section), "rope_theta": theta}
    vision = dict(depth=1, hidden_size=32, num_heads=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    if family == "qwen2_vl":
        vision.update(embed_dim=16, mlp_ratio=1)
        return Qwen2VLConfig(text_config=dict(TEXT, rope_parameters=rope), vision_config=vision)
    if family == "qwen2_5_vl":
        vision.update(
            out_hidden_size=32, intermediate_size=32, tokens_per_second=2, window_size=56, fullatt_block_indexes=[0]
        )
        return Qwen2_5_VLConfig(text_config=dict(TEXT, rope_parameters=rope), vision_config=vision)
    if family in ("qwen3_vl", "qwen3_vl_moe"):
        rope["mrope_interleaved"] = True
        vision.update(
            out_hidden_size=32,
            intermediate_size=32,
            patch_size=16,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0],
        )
        text = dict(TEXT, head_dim=16, rope_parameters=rope)
        if family == "qwen3_vl":
            return Qwen3VLConfig(text_config=text, vision_config=vision)
        moe = dict(num_local_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, decoder_sparse_step=1)
        return Qwen3VLMoeConfig(text_config=dict(text, **moe), vision_config=vision)
    if family in ("qwen3_5", "qwen3_5_moe"):
        from transformers import Qwen3_5Config, Qwen3_5MoeConfig

        rope = {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": theta, "mrope_interleaved": True,
                "partial_rotary_factor": 0.25}  # fmt: skip
        vision.update(out_hidden_size=32, intermediate_size=32, patch_size=16, num_position_embeddings=64)
        text = dict(TEXT, head_dim=32, rope_parameters=rope, layer_types=["linear_attention", "full_attention"],
                    linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2, linear_num_value_heads=2)
        if family == "qwen3_5":
            return Qwen3_5Config(text_config=text, vision_config=vision)
        moe = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=16)
        return Qwen3_5MoeConfig(text_config=dict(text, **moe), vision_config=vision)
    if family in ("glm4v", "glm4v_moe"):
        from transformers import Glm4vConfig, Glm4vMoeConfig

        rope.update(partial_rotary_factor=0.5)
        vision.update(out_hidden_size=64, intermediate_size=32, image_size=112)
        text = dict(TEXT, hidden_size=64, rope_parameters=rope)  # head_dim 64 / 2 heads = 32
        if family == "glm4v":
            return Glm4vConfig(text_config=text, vision_config=vision)
        moe = dict(n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, n_shared_experts=1,
                   first_k_dense_replace=1)  # fmt: skip
        return Glm4vMoeConfig(text_config=dict(text, **moe), vision_config=vision)
    if family == "internvl":
        from transformers import InternVLConfig

        vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                      image_size=[448, 448], patch_size=[56, 56])  # the published tile, 8 × 8 patches: 4 × 4 tokens
        text = dict(TEXT, model_type="qwen2", rope_parameters={"rope_type": "default", "rope_theta": theta})
        return InternVLConfig(text_config=text, vision_config=vision)
    if family == "llava_onevision":
        from transformers import LlavaOnevisionConfig

        vision = dict(model_type="siglip_vision_model", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, image_size=384, patch_size=56)  # 6 × 6 patches, pooled to 3 × 3 tokens
        text = dict(TEXT, model_type="qwen2", rope_parameters={"rope_type": "default", "rope_theta": theta})
        return LlavaOnevisionConfig(text_config=text, vision_config=vision, vision_feature_layer=-1)
    if family == "ernie4_5_vl_moe":
        from transformers import Ernie4_5_VLMoeConfig

        rope = {"rope_type": "default", "rope_theta": theta, "mrope_section": [3, 3, 2]}  # h, w, t: ERNIE's order
        text = dict(TEXT, head_dim=16, rope_parameters=rope, moe_intermediate_size=[16, 16], moe_k=2, moe_num_experts=4,
                    moe_num_shared_experts=0, mlp_layer_types=["sparse", "sparse"])  # fmt: skip
        vision = dict(depth=1, hidden_size=32, num_heads=2, intermediate_size=32, patch_size=14, spatial_merge_size=2,
                      temporal_merge_size=2)  # fmt: skip
        return Ernie4_5_VLMoeConfig(text_config=text, vision_config=vision)
    raise ValueError(family)


SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
           "<|video_pad|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<|begin_of_image|>",
           "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>", "<|image|>", "<|video|>", "<img>", "</img>",
           "<IMG_CONTEXT>", "<video>", "<image>", "<|begin_of_sentence|>", "<|end_of_sentence|>", "<|IMAGE_START|>",
           "<|IMAGE_PLACEHOLDER|>", "<|IMAGE_END|>", "<|VIDEO_START|>", "<|VIDEO_PLACEHOLDER|>", "<|VIDEO_END|>",
           "<think>", "</think>"]  # fmt: skip
"""Qwen's special tokens, then GLM-4.xV's, InternVL's, LLaVA's and ERNIE's: one tokenizer serves every family."""
TOKEN_IDS = {
    "qwen": {"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
             "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"},
    "glm": {"image_token_id": "<|image|>", "video_token_id": "<|video|>", "image_start_token_id": "<|begin_of_image|>",
            "image_end_token_id": "<|end_of_image|>", "video_start_token_id": "<|begin_of_video|>",
            "video_end_token_id": "<|end_of_video|>"},
    "internvl": {"image_token_id": "<IMG_CONTEXT>"},
    "llava": {"image_token_id": "<image>", "video_token_id": "<video>"},
    "ernie": {"image_token_id": "<|IMAGE_PLACEHOLDER|>", "video_token_id": "<|VIDEO_PLACEHOLDER|>",
              "image_start_token_id": "<|IMAGE_START|>", "image_end_token_id": "<|IMAGE_END|>",
              "video_start_token_id": "<|VIDEO_START|>", "video_end_token_id": "<|VIDEO_END|>"},
}  # fmt: skip
"""Family markup → the config's token-id fields and the tokens they name."""


def chat_template(markup: str = "qwen") -> str:
    """niah's minimal ChatML template, placing a video in the family markup's placeholder."""
    from niah.backends.hf.prompt import VIDEO_MARKUPS

    return (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
        f"{{% if c['type'] == 'video' %}}{VIDEO_MARKUPS[markup].placeholder}"
        "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )


def tiny_tokenizer(base=None):
    """A tokenizer with every family's special tokens: over `base` (a tokenizers.Tokenizer, e.g. a
    real BPE) or, by default, byte-level (256 byte tokens, no merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = base
    if tok is None:
        alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
        tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    fast.chat_template = chat_template()
    return fast


QWEN2_VL_7B_TEXT = dict(
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    vocab_size=152064,
    rms_norm_eps=1e-6,
    max_position_embeddings=32768,
    rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1_000_000.0},
)
QWEN2_VL_7B_VISION = dict(depth=32, embed_dim=1280, hidden_size=3584, mlp_ratio=4, num_heads=16, patch_size=14,
                          spatial_merge_size=2, temporal_patch_size=2)  # fmt: skip


def qwen2_vl_7b_config():
    """Qwen2-VL-7B-Instruct's architecture: 28 layers × 3584, 28 query / 4 KV heads of 128, a
    32-block ViT of width 1280 (8.3 B parameters)."""
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(text_config=QWEN2_VL_7B_TEXT, vision_config=QWEN2_VL_7B_VISION)


TINY_PIXELS = {"ernie4_5_vl_moe": {"size": {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280}}}
"""Processor settings the tiny checkpoints change to keep prompts short: ERNIE's published
minimum (299 × 28² pixels) scales every small frame up to about 300 tokens."""


def save_tiny_checkpoint(path: Path, family: str, seed: int = 0, template: str | None = None) -> Path:
    """A complete tiny checkpoint dir (config, random weights, tokenizer, preprocessor config)
    saved with save_pretrained, loadable like a hub checkpoint."""
    return save_checkpoint(path, tiny_config(family), seed=seed, template=template, pixels=TINY_PIXELS.get(family))


def save_checkpoint(path: Path, config, weights: bool = True, seed: int = 0, template: str | None = None,
                    pixels: dict | None = None, tokenizer=None) -> Path:  # fmt: skip
    """Save `config` (its token ids pointed at the tokenizer's special tokens), the tokenizer
    (`tiny_tokenizer()` unless given; with `template`, default niah's minimal ChatML one in the
    family's markup), the
    family's processor configs (PROCESSOR_CONFIGS, updated by `pixels`) and, with `weights`, random
    weights drawn with `seed`."""
    import json

    import torch
    from transformers import AutoModelForImageTextToText

    from niah.model_families import MODEL_FAMILIES

    family = config.model_type
    markup = MODEL_FAMILIES[family].markup
    tokenizer = tokenizer or tiny_tokenizer()
    tokenizer.chat_template = template or chat_template(markup)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL}
    for field, token in TOKEN_IDS[markup].items():
        setattr(config, field, ids[token])
    for cfg in (config, config.text_config):  # the defaults point at Qwen's 151k vocabulary
        cfg.eos_token_id, cfg.bos_token_id, cfg.pad_token_id = ids["<|im_end|>"], None, ids["<|endoftext|>"]
    path = Path(path)
    if weights:
        torch.manual_seed(seed)
        AutoModelForImageTextToText.from_config(config).save_pretrained(path)
    else:
        config.save_pretrained(path)
    tokenizer.save_pretrained(path)
    for name, published in PROCESSOR_CONFIGS[family].items():
        settings = {**published, **(pixels or {})}
        (path / name).write_text(json.dumps(settings, indent=2))
        if settings.get("draw_on_frames"):
            import shutil

            import matplotlib

            shutil.copyfile(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONT_STAND_IN, path / settings["font"])
    return path


CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
_QWEN2 = {"preprocessor_config.json": {
    "image_processor_type": "Qwen2VLImageProcessor", "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "min_pixels": 3136, "max_pixels": 12845056}}  # fmt: skip
_QWEN3 = {
    "preprocessor_config.json": {
        "image_processor_type": "Qwen2VLImageProcessorFast", "patch_size": 16, "temporal_patch_size": 2,
        "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "size": {"shortest_edge": 65536, "longest_edge": 16777216}},
    "video_preprocessor_config.json": {
        "video_processor_type": "Qwen3VLVideoProcessor", "patch_size": 16, "temporal_patch_size": 2,
        "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "fps": 2, "min_frames": 4,
        "max_frames": 768, "size": {"shortest_edge": 4096, "longest_edge": 25165824}},
}  # fmt: skip
_GLM = {"video_preprocessor_config.json": {  # Glm4vVideoProcessor's own defaults (transformers 5.24)
    "video_processor_type": "Glm4vVideoProcessor", "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "fps": 2,
    "size": {"shortest_edge": 12544, "longest_edge": 47040000}}}  # fmt: skip
_INTERNVL = {"preprocessor_config.json": {  # the -hf conversion's (transformers' convert_internvl_weights_to_hf)
    "image_processor_type": "GotOcr2ImageProcessorFast", "size": {"height": 448, "width": 448},
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}}  # fmt: skip
_LLAVA = {"video_preprocessor_config.json": {  # the -hf conversion: the video processor of SigLIP-so400m-384
    "video_processor_type": "LlavaOnevisionVideoProcessor", "size": {"height": 384, "width": 384},
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}}  # fmt: skip
_ERNIE = {"video_preprocessor_config.json": {  # Ernie4_5_VLMoeVideoProcessor's defaults (transformers 5.24)
    "video_processor_type": "Ernie4_5_VLMoeVideoProcessor", "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
    "size": {"shortest_edge": 299 * 28 * 28, "longest_edge": 1196 * 28 * 28}, "draw_on_frames": True,
    "font": "Roboto-Regular.ttf"}}  # fmt: skip
PROCESSOR_CONFIGS: dict[str, dict[str, dict]] = {
    "qwen2_vl": _QWEN2,
    "qwen2_5_vl": _QWEN2,
    "qwen3_vl": _QWEN3,
    "qwen3_vl_moe": _QWEN3,
    "qwen3_5": _QWEN3,
    "qwen3_5_moe": _QWEN3,
    "glm4v": _GLM,
    "glm4v_moe": _GLM,
    "internvl": _INTERNVL,
    "llava_onevision": _LLAVA,
    "ernie4_5_vl_moe": _ERNIE,
}  # fmt: skip
"""The processor files of the published checkpoints (Qwen2-VL-7B-Instruct, Qwen2.5-VL-7B-Instruct,
Qwen3-VL-8B-Instruct): file name → the settings niah reads, with the values the hub ships. Qwen3.5
uses Qwen3-VL's processor classes (transformers' auto mappings); its checkpoints' own files were
not reachable here, so Qwen3-VL's values stand in for them. GLM-4.1V / 4.5V: the defaults of
transformers' Glm4vVideoProcessor (the checkpoints' own files were not reachable either).
InternVL: the -hf conversion's image processor (448-px tiles, ImageNet mean/std); LLaVA-OneVision:
384-px frames with SigLIP's mean/std 0.5 (its conversion takes the video processor of
google/siglip-so400m-patch14-384; neither file was reachable here to check). ERNIE-4.5-VL: its
video processor's class defaults, with the font its conversion ships (Roboto-Regular.ttf); the
tiny checkpoints carry matplotlib's DejaVu Sans under that name (FONT_STAND_IN)."""
FONT_STAND_IN = "DejaVuSans.ttf"
"""The font file (from matplotlib's own data) tiny ERNIE checkpoints draw frame times with."""
