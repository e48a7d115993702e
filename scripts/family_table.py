"""The two tables of README's "Real models" section, from niah's own registries and docs/data.

    python scripts/family_table.py            # prints both Markdown tables

For each hf family: transformers' class, the native variant (niah rope list), how its text model
rotates and attends (full or hybrid linear attention; both from transformers' default config of
the family, not a particular checkpoint's), how a video is
laid out, and the vision tokens per frame at LongVA's 448×252 frames and over its longest
haystack (3000 frames), computed from the published processor settings niah reads
(niah.backends.hf.tiny.PROCESSOR_CONFIGS).

Then, per public checkpoint (docs/data/public_checkpoints.json, each row naming the public copy of
its config it was read from; a family none of whose configs could be read here gets a row of its
prompt only, with the reason in that file's no_public_config), the longest LongVA prompt in tokens
(docs/data/longva_prompts.json, made by scripts/longva_prompts.py) and the bf16 KV cache at that
length. The KV cache of any other checkpoint at any length is printed by `niah run ... --dry-run`
from the checkpoint's own config.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from niah.backends.hf.checkpoint import load_pixel_settings  # noqa: E402
from niah.backends.hf.pixels import tokens_per_frame  # noqa: E402
from niah.backends.hf.tiny import PROCESSOR_CONFIGS  # noqa: E402
from niah.model_families import MODEL_FAMILIES, VIDEO_MARKUPS  # noqa: E402

PROMPTS = ROOT / "docs" / "data" / "longva_prompts.json"  # scripts/longva_prompts.py
CHECKPOINTS = ROOT / "docs" / "data" / "public_checkpoints.json"  # each row with the public copy it was read from
LONGVA_FRAME = (252, 448)  # height, width: haystacks/base.json
LONGVA_LONGEST = 3000  # frames


def text_defaults(family: str):
    """The text config transformers' own config class gives the family by default."""
    from transformers import AutoConfig

    return AutoConfig.for_model(family).get_text_config()


PUBLISHED_PARTIAL = {"glm4v": 0.5}
"""Where the config class's default is not the checkpoints': Glm4vTextConfig defaults to rotating
all of each head, but GLM-4.1V's rotary module splits 32 frequency pairs as [8, 12, 12] of its
128-dim heads, which only its checkpoints' partial_rotary_factor 0.5 makes whole."""


def rotation(family: str) -> str:
    """'all of each head' or '0.25 of each head' (from the family's config class defaults, or
    PUBLISHED_PARTIAL), and how dims are paired where not as Qwen pairs them."""
    text = text_defaults(family)
    types = set(getattr(text, "layer_types", None) or ())
    by_type = {t: p for t, p in (text.rope_parameters or {}).items() if t in types and p}
    if len({repr(p) for p in by_type.values()}) > 1:  # LFM3: each attention layer type its own rotary
        return "; ".join(f"{t.split('_')[0]} layers: {_share(p.get('partial_rotary_factor'))}"
                         + (" (proportional)" if p.get("rope_type") == "proportional" else "")
                         for t, p in sorted(by_type.items()))  # fmt: skip
    if getattr(text, "qk_rope_head_dim", None):  # MLA: a rotated slice of each query and key head
        return (f"{text.qk_rope_head_dim} of each {text.qk_nope_head_dim + text.qk_rope_head_dim}-dim query/key "
                "head (MLA), adjacent dims paired")  # fmt: skip
    factor = (text.rope_parameters or {}).get("partial_rotary_factor", getattr(text, "partial_rotary_factor", 1.0))
    factor = PUBLISHED_PARTIAL.get(family, factor)
    return _share(factor) + (", adjacent dims paired" if MODEL_FAMILIES[family].pair_layout == "adjacent" else "")


def _share(factor: float | None) -> str:
    return "all of each head" if factor in (None, 1) else f"{factor:g} of each head"


def attention(family: str) -> str:
    text = text_defaults(family)
    kinds = getattr(text, "layer_types", None) or ["full_attention"]
    share = (kinds.count("full_attention") + kinds.count("indexed_attention")) / len(kinds)
    if "indexed_attention" in kinds and "linear_attention" in kinds:  # Qwen4-Exp
        return f"hybrid: {share:.0%} full behind a learned sparse indexer, the rest linear (Gated DeltaNet)"
    if "indexed_attention" in kinds:  # HY-V4-VL
        return (f"full (MLA), each query's keys chosen by a sparse indexer (top {text.index_topk:,}), "
                "learned attention sinks")  # fmt: skip
    if "conv" in kinds:  # LFM3
        sliding = kinds.count("sliding_attention") / len(kinds)
        return (f"hybrid: {share:.0%} full, {sliding:.0%} a {text.sliding_window:,}-token sliding window, the rest "
                "short convolutions")  # fmt: skip
    if "linear_attention" in kinds:
        return f"hybrid: {share:.0%} full, the rest linear (Gated DeltaNet)"
    if "sliding_attention" in kinds:
        return f"hybrid: {share:.0%} full, the rest a {text.sliding_window:,}-token sliding window"
    return "full"


def frame_grid(name: str) -> tuple[int, int]:
    """(rows, columns) of vision tokens of one 448×252 frame under the family's published processor settings."""
    from transformers import AutoConfig

    with tempfile.TemporaryDirectory() as tmp:
        for file, settings in PROCESSOR_CONFIGS[name].items():
            (Path(tmp) / file).write_text(json.dumps(settings))
        settings = load_pixel_settings(tmp, MODEL_FAMILIES[name], AutoConfig.for_model(name))
        return tokens_per_frame(*LONGVA_FRAME, settings)


def table() -> str:
    rows = ["| family | transformers class | native variant | rotates | attention | video | tokens per frame at "
            "448×252 | vision tokens at 3000 frames |", "|---|---|---|---|---|---|---|---|"]
    for name, family in MODEL_FAMILIES.items():
        h, w = frame_grid(name)
        markup = VIDEO_MARKUPS[family.markup]
        video = markup.summary if family.frame_runs else "one run"
        video += f", then the learned {markup.trailer} vector" if markup.trailer else ""
        video += ", each frame's time drawn into its pixels" if family.timed_frames else ""
        video += ", each merged row ending with a learned newline token" if family.row_newline else ""
        rows.append(f"| {family.title} | `{family.model_class}` | `{family.native_variant}` | {rotation(name)} | "
                    f"{attention(name)} | {video} | {h}×{w} = {h * w} | {LONGVA_LONGEST * h * w:,} |")
    return "\n".join(rows)


SHAPE_KEYS = ("num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "full_attention_interval")


def text_shape(row: dict):
    """The family's text config (transformers' class, which derives Qwen3.5's layer types from its
    full_attention_interval) with a row of docs/data/public_checkpoints.json."""
    from transformers import AutoConfig

    text = {key: row[key] for key in SHAPE_KEYS if key in row}
    return AutoConfig.for_model(row["family"], text_config=text).get_text_config()


def kv_table() -> str:
    """README's table of the longest LongVA prompt (docs/data/longva_prompts.json) and its bf16 KV cache for each
    public checkpoint (docs/data/public_checkpoints.json), through the function `niah run --dry-run` uses."""
    from niah.backends.hf.backend import GiB, full_attention_layers, kv_cache_bytes

    prompts = json.loads(PROMPTS.read_text())["families"]
    rows = ["| checkpoint | KV layers × KV heads × head_dim | KV cache per token (bf16) | longest LongVA prompt "
            "(tokens) | its KV cache (bf16) |", "|---|---|---|---|---|"]
    recorded = json.loads(CHECKPOINTS.read_text())
    for row in recorded["checkpoints"]:
        prompt = prompts[row["family"]]
        shape = text_shape(row)
        full = full_attention_layers(shape)
        approx = "≈ " if prompt["text_tokenizer"] == "estimate" else ""
        per_token = kv_cache_bytes(shape, 1, "bfloat16")
        rows.append(f"| {row['checkpoint']} | {full} × {row['num_key_value_heads']} × {row['head_dim']} | "
                    f"{per_token / 1024:g} KiB | {approx}{prompt['tokens']:,} | "
                    f"{approx}{kv_cache_bytes(shape, prompt['tokens'], 'bfloat16') / GiB:.1f} GiB |")
    for row in recorded.get("no_public_config", []):  # the prompt is known, the model's size is not
        prompt = prompts[row["family"]]
        approx = "≈ " if prompt["text_tokenizer"] == "estimate" else ""
        rows.append(f"| {row['checkpoint']} | no public config read | — | {approx}{prompt['tokens']:,} | — |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table() + "\n\n" + kv_table())
