"""Tokens of the longest LongVA prompt per hf family, as `niah run --dry-run` counts them.

    pip download --no-deps dashscope && unzip -j dashscope-*.whl dashscope/resources/qwen.tiktoken
    pip install tiktoken
    python scripts/longva_prompts.py --bpe qwen.tiktoken        # writes docs/data/longva_prompts.json
    python scripts/longva_prompts.py --bpe qwen.tiktoken --families ovis2_5   # that row only, the rest kept

Generates the longva preset at its longest length (3000 frames, every depth and needle), then, per
family, saves a weightless checkpoint folder (the family's default config from transformers, the
published processor settings, the published chat template from tests/fixtures/chat_templates where
there is one) and asks niah's own planner (the code behind `niah run --dry-run`) for every sample's
prompt with the family's native variant. The longest prompt's segments are split into vision tokens
(frames and learned vectors) and text tokens.

The text is tokenized with Qwen's byte-level BPE (the qwen.tiktoken file that dashscope ships, with
Qwen's pre-tokenizer, which splits every digit), the real tokenizer of Qwen2-VL, Qwen2.5-VL, Qwen3-VL,
InternVL3 (Qwen2.5 LLM) and LLaVA-OneVision (Qwen2 LLM): its 151,643 tokens end where Qwen2's added
tokens begin (<|endoftext|> = 151643), and its first tokens after the bytes (ids 256-260: ĠĠ, ĠĠĠĠ,
in, Ġt, 8 × Ġ) are the first merges in the GGUF metadata of Ollama's qwen2 and Qwen2.5-VL
conversions. Qwen3.5, GLM-4.xV and ERNIE-4.5-VL ship other vocabularies: their text counts are
estimates with this BPE (the JSON says which). No model hub is reachable here, so no other
tokenizer could be used.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from niah.data.dataset import sha256_file  # noqa: E402
from niah.model_families import MODEL_FAMILIES  # noqa: E402

OUT = ROOT / "docs" / "data" / "longva_prompts.json"
TEMPLATES = ROOT / "tests" / "fixtures" / "chat_templates"
TEMPLATE_OF = {"qwen3_vl_moe": "qwen3_vl", "qwen3_5_moe": "qwen3_5", "cosmos3_omni": "qwen3_vl", "qwen4_exp": "qwen3_5"}
"""Families that take another's published template (as tests/backends/hf/conftest.py's TEMPLATE_OF says why)."""
QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
"""Qwen's pre-tokenizer (Qwen2's tokenizer.json and dashscope's qwen_tokenizer.py): single digits."""
QWEN_BPE_FAMILIES = {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "internvl", "llava_onevision"}
"""Families whose own tokenizer has exactly Qwen2's BPE; the rest get an estimate of their text tokens."""
LENGTH = 3000  # frames: LongVA's longest haystack


def longest_prompt(dataset: Path, folder: Path, family: str) -> dict:
    """The longest sample's tokens through niah's planner: total, vision, text, frames."""
    from niah.sweep.engine import RunConfig, prepare

    config = RunConfig(str(dataset), model=f"hf:{folder}", variants=[MODEL_FAMILIES[family].native_variant],
                       backend_options={"no_prefix_reuse": True})  # the prompts are the same either way; sliding
    # windows (EXAONE 4.5) run only without reuse
    p = prepare(config)
    best = max((p.backend.segments(p.dataset, s) for s in p.shard_plan), key=lambda segs: sum(s.n for s in segs))
    vision = sum(s.n for s in best if s.frame is not None or s.vector is not None)
    total = sum(s.n for s in best)
    return {"tokens": total, "vision_tokens": vision, "text_tokens": total - vision,
            "frames": sum(s.frame is not None for s in best)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bpe", type=Path, required=True, help="Qwen's qwen.tiktoken (see above)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--families", help="comma-separated families to (re)measure; the file's other rows are kept")
    args = parser.parse_args()
    families = args.families.split(",") if args.families else list(MODEL_FAMILIES)
    unknown = [f for f in families if f not in MODEL_FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}: choose from {', '.join(MODEL_FAMILIES)}")

    from transformers import AutoConfig
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from niah.backends.hf.tiny import save_checkpoint, tiny_tokenizer
    from niah.data.generate import generate, resolve_config

    bpe = TikTokenConverter(str(args.bpe), pattern=QWEN_PATTERN).converted()
    kept = json.loads(args.out.read_text())["families"] if args.families and args.out.is_file() else {}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = generate(Path(tmp) / "longva", resolve_config("longva", lengths=[LENGTH]))
        for family in families:
            fixture = TEMPLATES / f"{TEMPLATE_OF.get(family, family)}.jinja"
            template = fixture.read_text() if fixture.is_file() else None
            folder = save_checkpoint(Path(tmp) / family, AutoConfig.for_model(family), weights=False,
                                     template=template, tokenizer=tiny_tokenizer(bpe))  # fmt: skip
            source = f"{fixture.name} sha256 {sha256_file(fixture)}" if template else "niah's minimal"
            rows[family] = {**longest_prompt(dataset, folder, family), "template": source,
                            "text_tokenizer": "exact" if family in QWEN_BPE_FAMILIES else "estimate"}  # fmt: skip
            print(family, rows[family], flush=True)
    record = {
        "what": f"the longest prompt of the longva preset at {LENGTH} frames (every depth, needle and task), "
                "native variant, each frame at the size the family's processor gives one 448x252 frame "
                "(niah's default)",
        "made_by": "python scripts/longva_prompts.py --bpe qwen.tiktoken",
        "bpe": {"file": args.bpe.name, "sha256": sha256_file(args.bpe), "from": "the dashscope wheel on PyPI, "
                "dashscope/resources/qwen.tiktoken"},
        "families": {f: rows.get(f) or kept[f] for f in MODEL_FAMILIES if f in rows or f in kept},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
