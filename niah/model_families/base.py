"""What a family module of niah.model_families declares: its `Family` rows and, where its prompt
writes a video in tokens of its own, its `VideoMarkup`; and the tiny-config pieces several share.

No torch or transformers at import: a family's `tiny` builder imports its config classes itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VideoMarkup:
    """How a family's prompt writes a video: the template's placeholder is `open` + pad + `close`;
    the frames replace the pad, each framed by `frame(i, seconds)` → (text before, text after) in
    the timestamped layout (None: the family has none), all of them by `run` in the contiguous
    one, followed by the model's learned vector `trailer` where it has one. `run_token_ids`: the
    config fields whose tokens (in the checkpoint's own tokenizer) replace `run`'s text, where the
    published names are not known (Ovis2.5). `token_ids`: the config's token-id fields and the
    tokens they name; `special_tokens`: the tokens its markup and published chat template use (the
    tiny tokenizer adds them)."""

    open: str
    pad: str
    close: str
    frame: Callable[[int, float], tuple[str, str]] | None
    run: tuple[str, str] = ("", "")
    summary: str = ""  # the timestamped layout in words (README's family table)
    trailer: str | None = None
    run_token_ids: tuple[str, str] | None = None
    token_ids: Mapping[str, str] = field(default_factory=dict)
    special_tokens: tuple[str, ...] = ()

    @property
    def placeholder(self) -> str:
        return self.open + self.pad + self.close


@dataclass(frozen=True)
class Family:
    name: str
    title: str  # the checkpoints' name, e.g. "Qwen2-VL"
    model_class: str  # transformers' class AutoModelForImageTextToText loads
    native_variant: str  # e.g. "m-rope"; m-rope-time gets tokens_per_second from the config
    frame_runs: bool  # True: each frame its own run with a timestamp text before it (Qwen3-VL)
    deepstack: bool  # the vision tower returns extra embeddings added in early LLM layers
    video_pixels_per_video: bool = False  # its video processor's pixel limits bound frames × pixels of a video
    markup: str = "qwen"  # the video's tokens in the prompt: a key of niah.model_families.VIDEO_MARKUPS
    pair_layout: str = "half"  # which dims a rotary pair turns: a key of niah.rope.tables.PAIR_LAYOUTS
    vision: str = "patches"  # how frames reach the vision tower: a key of niah.backends.hf.vision.ENCODERS
    section_order: tuple[int, int, int] = (0, 1, 2)  # the config's mrope_section entries that are niah's (t, h, w)
    timed_frames: bool = False  # its processor draws each frame's time into the pixels: encoded per (frame, time)
    routes_by_modality: bool = False  # its MoE picks experts by token type (moe_mm_token_type_ids)
    # tiny random checkpoints (niah.backends.hf.tiny): tiny(mrope_section, theta) → its config
    tiny: Callable[[tuple[int, int, int], float], Any] | None = field(default=None, compare=False, repr=False)
    # the processor files of its published checkpoints: file name → the settings niah reads
    processor_configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    # what a tiny checkpoint changes in those processor settings (ERNIE: a smaller minimum)
    tiny_pixels: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    # its full-attention layers rotate nothing where its config sets a sliding window (EXAONE-4's attention)
    nope_global_layers: bool = False
    # the oldest transformers whose model this native variant reproduces, where older ones differ
    min_transformers: str = ""
    why_min_transformers: str = ""  # what changed, for the refusal
    resample: int = 3  # its processor class's resize filter, PIL's code (3 bicubic, 2 bilinear), if its file is silent
    # model → {token id: (hidden,) vector its forward embeds in place of that token} (Ovis2.5's indicators)
    replaced_embeddings: Callable[[Any], Mapping[int, Any]] | None = field(default=None, compare=False, repr=False)
    # the text model's argument that takes the token ids beside inputs_embeds (Qwen4-Exp's per-layer
    # n-gram embeddings: "ple_input_ids"); a frame's tokens are its video pad there, as in input_ids
    ids_argument: str = ""
    # the attention its text model must run on, where niah's mask-free chunked sdpa cannot serve it
    # ("sdpa-stock": Qwen4-Exp's indexer reads the mask; "eager": HY-V4-VL's attention sinks), and why
    text_attention: str = ""
    why_text_attention: str = ""
    # how its processor sizes frames: "smart" (Qwen2-VL's smart_resize) or "hy4" (HY-V4-VL's: never
    # scaled up, floored to the factor, a merged row of W patches costing W + 1 tokens)
    resize: str = "smart"
    # every merged row of a frame ends with a learned newline token inside the vision features
    # (HY-V4-VL): a frame is H rows of W + 1 tokens, prompt and positions alike
    row_newline: bool = False


TINY_TEXT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    intermediate_size=48,
    vocab_size=400,
    max_position_embeddings=100_000,
)
"""The text model of every tiny checkpoint, before a family's changes: head_dim 16 (8 pairs)."""


def tiny_vision(**changes: Any) -> dict[str, Any]:
    """The Qwen-style vision tower of a tiny checkpoint (1 block of width 32), with `changes`."""
    return {"depth": 1, "hidden_size": 32, "num_heads": 2, "patch_size": 14, "spatial_merge_size": 2,
            "temporal_patch_size": 2, **changes}


def tiny_rope(mrope_section: tuple[int, int, int], theta: float, **changes: Any) -> dict[str, Any]:
    """rope_parameters of a tiny checkpoint: the default rope type, its section and base θ."""
    return {"rope_type": "default", "mrope_section": list(mrope_section), "rope_theta": theta, **changes}


CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
