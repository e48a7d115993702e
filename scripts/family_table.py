"""The per-family table of README's "Real models" section, from niah's own registries.

    python scripts/family_table.py            # prints the Markdown table

For each hf family: transformers' class, the native variant (niah rope list), how its text model
rotates and attends (full or hybrid linear attention; both from transformers' default config of
the family, not a particular checkpoint's), how a video is
laid out, and the vision tokens per frame at LongVA's 448×252 frames and over its longest
haystack (3000 frames), computed from the published processor settings niah reads
(niah.backends.hf.tiny.PROCESSOR_CONFIGS). The KV cache of a given checkpoint at a given length
is printed by `niah run ... --dry-run` from the checkpoint's own config.
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
from niah.backends.hf.prompt import VIDEO_MARKUPS  # noqa: E402
from niah.backends.hf.tiny import PROCESSOR_CONFIGS  # noqa: E402
from niah.model_families import FAMILIES  # noqa: E402

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
    factor = (text.rope_parameters or {}).get("partial_rotary_factor", getattr(text, "partial_rotary_factor", 1.0))
    factor = PUBLISHED_PARTIAL.get(family, factor)
    share = "all of each head" if factor in (None, 1) else f"{factor:g} of each head"
    return share + (", adjacent dims paired" if FAMILIES[family].pair_layout == "adjacent" else "")


def attention(family: str) -> str:
    kinds = getattr(text_defaults(family), "layer_types", None) or ["full_attention"]
    if "linear_attention" not in kinds:
        return "full"
    share = kinds.count("full_attention") / len(kinds)
    return f"hybrid: {share:.0%} full, the rest linear (Gated DeltaNet)"


def table() -> str:
    from transformers import AutoConfig

    rows = ["| family | transformers class | native variant | rotates | attention | video | tokens per frame at "
            "448×252 | vision tokens at 3000 frames |", "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, family in FAMILIES.items():
            folder = Path(tmp) / name
            folder.mkdir()
            for file, settings in PROCESSOR_CONFIGS[name].items():
                (folder / file).write_text(json.dumps(settings))
            pixels = load_pixel_settings(str(folder), family, AutoConfig.for_model(name))
            h, w = tokens_per_frame(*LONGVA_FRAME, pixels)
            markup = VIDEO_MARKUPS[family.markup]
            video = markup.summary if family.frame_runs else "one run"
            video += f", then the learned {markup.trailer} vector" if markup.trailer else ""
            video += ", each frame's time drawn into its pixels" if family.timed_frames else ""
            rows.append(f"| {family.title} | `{family.model_class}` | `{family.native_variant}` | {rotation(name)} | "
                        f"{attention(name)} | {video} | {h}×{w} = {h * w} | {LONGVA_LONGEST * h * w:,} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
