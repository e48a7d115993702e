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

from niah.model_families import MODEL_FAMILIES, VIDEO_MARKUPS


def tiny_config(family: str, mrope_section=(2, 3, 3), theta: float = 10_000.0):
    """A tiny config of a family (a key of niah.model_families.MODEL_FAMILIES), built by its module:
    head_dim 16 (8 pairs) unless the family's published design says otherwise; the MoEs have 4
    experts of which 2 route each token. Each family's module says what its tiny config keeps of the
    published one (Qwen3.5's linear-attention layers and partial rotary, GLM's half-rotated heads,
    InternVL's and LLaVA-OneVision's published frame sizes in large patches, ERNIE's routing)."""
    if family not in MODEL_FAMILIES or MODEL_FAMILIES[family].tiny is None:
        raise ValueError(family)
    return MODEL_FAMILIES[family].tiny(tuple(mrope_section), theta)


SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>",
           *dict.fromkeys(t for m in VIDEO_MARKUPS.values() for t in m.special_tokens), "<think>", "</think>"]
"""ChatML's tokens, then every family markup's (Qwen's, GLM-4.xV's, InternVL's, LLaVA's, ERNIE's, in
registry order), then a thinking model's: one tokenizer serves every family."""
TOKEN_IDS = {name: dict(markup.token_ids) for name, markup in VIDEO_MARKUPS.items()}
"""Family markup → the config's token-id fields and the tokens they name."""


def chat_template(markup: str = "qwen") -> str:
    """niah's minimal ChatML template, placing a video in the family markup's placeholder."""
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


def save_tiny_checkpoint(path: Path, family: str, seed: int = 0, template: str | None = None) -> Path:
    """A complete tiny checkpoint dir (config, random weights, tokenizer, preprocessor config)
    saved with save_pretrained, loadable like a hub checkpoint."""
    pixels = MODEL_FAMILIES[family].tiny_pixels  # ERNIE: a smaller minimum, so small frames stay small
    return save_checkpoint(path, tiny_config(family), seed=seed, template=template, pixels=pixels)


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


PROCESSOR_CONFIGS: dict[str, dict[str, dict]] = {name: {file: dict(settings) for file, settings in
                                                         f.processor_configs.items()}
                                                  for name, f in MODEL_FAMILIES.items()}  # fmt: skip
"""The processor files of each family's published checkpoints (file name → the settings niah reads),
as its module in niah.model_families gives them, with where they come from."""
FONT_STAND_IN = "DejaVuSans.ttf"
"""The font file (from matplotlib's own data) tiny ERNIE checkpoints draw frame times with."""
