"""The RoPE variant registry: the single source of truth for names, options, papers and equations.

A variant is three independent choices (see design.md):
  1. a placement rule for vision runs (niah.rope.positions.PLACEMENT_RULES),
  2. a frequency allocation (niah.rope.frequencies.ALLOCATIONS),
  3. a temporal index τ(f) (unit spacing, δ·f, or absolute time).

A registry entry is a `VariantSpec`: name, one-line description, paper, equation, option
defaults, and a `build(options) -> RopeVariant` function. Options come in the name string,
``videorope:delta=1.5,alloc=high``, the same syntax in the CLI, Python and run files; unknown
options are errors. Users add variants with `register_variant` (e.g. from a ``--plugin`` file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from niah.errors import NiahError, unknown
from niah.rope import frequencies as fq
from niah.rope import positions as pos
from niah.rope.layout import Layout
from niah.rope.modifiers import SEPARATOR, Modifier, modified_base, modified_inv_freq, modified_pairs, parse_modifier
from niah.rope.options import fmt, parse_options, resolve_options

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class RopeVariant:
    """A resolved variant: everything needed to place tokens and build rotary tables."""

    name: str
    options: Mapping[str, Any]
    placement: str
    allocation: str
    temporal: pos.TemporalIndex
    temporal_scaling: str  # human-readable τ(f), e.g. "δ·f (δ=2)"
    modifiers: tuple[Modifier, ...] = ()  # context-extension modifiers (niah.rope.modifiers)

    @property
    def spec(self) -> str:
        """The canonical name string with every option spelled out, e.g. 'videorope:delta=2,...',
        then its modifiers, e.g. '+yarn:factor=4,...'."""
        text = self.name
        if self.options:
            text += ":" + ",".join(f"{k}={fmt(v)}" for k, v in self.options.items())
        return text + "".join(m.text for m in self.modifiers)

    def position_array(self, layout: Layout | str) -> np.ndarray:
        """Positions of shape (3, L) as numpy: int64 where integral, else float64 (no torch)."""
        layout = Layout.parse(layout) if isinstance(layout, str) else layout
        return pos.as_exact(pos.position_ids(layout, self.placement, self.temporal))

    def position_ids(self, layout: Layout | str) -> torch.Tensor:
        """Positions of shape (3, L) as a torch tensor: int64 where integral, else float64."""
        import torch

        return torch.from_numpy(self.position_array(layout))

    def axis_of_pair(self, head_dim: int, section: fq.Section | None = None) -> np.ndarray:
        """Axis driving each frequency pair, shape (head_dim/2,): 0 t, 1 h, 2 w, -1 unrotated."""
        return modified_pairs(self.modifiers, fq.ALLOCATIONS[self.allocation](head_dim, section), fq.UNROTATED)

    def inverse_frequencies(self, head_dim: int, base: float) -> tuple[torch.Tensor, float]:
        """(θ^(−2i/d) after the modifiers, float32 (d/2,), the cos/sin scale they ask for: 1 but YaRN)."""
        from niah.rope.tables import inverse_frequencies

        base = modified_base(self.modifiers, base, head_dim)
        return modified_inv_freq(self.modifiers, inverse_frequencies(head_dim, base), head_dim, base)

    def rotary_tables(
        self,
        position_ids: torch.Tensor,
        head_dim: int,
        base: float,
        section: fq.Section | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape (..., L, head_dim) for position ids of shape (3, ..., L); dtype
        float32 unless given (the angles are formed in float32 whatever the dtype)."""
        import torch

        from niah.rope.tables import rotary_tables

        inv_freq, scale = self.inverse_frequencies(head_dim, base)  # without modifiers: transformers' own table
        return rotary_tables(position_ids, self.axis_of_pair(head_dim, section), head_dim, base, dtype or torch.float32,
                             inv_freq=inv_freq, scale=scale)  # fmt: skip


@dataclass(frozen=True)
class VariantSpec:
    """One registry entry. `defaults` lists every accepted option with its default value."""

    name: str
    description: str
    paper: str
    equation: str
    build: Callable[[dict[str, Any]], RopeVariant]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self, options: Mapping[str, str]) -> RopeVariant:
        return self.build(resolve_options(f"variant '{self.name}'", f"'{self.name}'", options, self.defaults,
                                          self.choices))  # fmt: skip


VARIANTS: dict[str, VariantSpec] = {}


def register_variant(spec: VariantSpec) -> VariantSpec:
    """Add a variant to the registry (a later registration of the same name replaces it)."""
    VARIANTS[spec.name] = spec
    return spec


def resolve_variant(text: str) -> RopeVariant:
    """'name' or 'name:key=value,...', then any '+modifier' (niah.rope.modifiers) → RopeVariant.
    Unknown names suggest the closest ones."""
    text, *modifier_texts = SEPARATOR.split(text.strip())
    modifiers = tuple(parse_modifier(m.strip()) for m in modifier_texts)
    for stage in ("inv_freq", "pairs"):
        named = [m.spec.name for m in modifiers if m.spec.stage == stage]
        if len(named) > 1:
            raise NiahError(f"modifiers {', '.join('+' + n for n in named)} both set the {stage.replace('_', ' ')}: "
                            "give one of them")  # fmt: skip
    variant = _resolve_base(text)
    return replace(variant, modifiers=modifiers) if modifiers else variant


def _resolve_base(text: str) -> RopeVariant:
    name, _, opts = text.strip().partition(":")
    if name not in VARIANTS:
        raise unknown("RoPE variant", name, VARIANTS)
    return VARIANTS[name].resolve(parse_options(opts, f"variant '{text}'"))


# ---------------------------------------------------------------- built-in variants


def fixed_variant(name: str, placement: str, allocation: str) -> Callable[[dict[str, Any]], RopeVariant]:
    """A `build` function for a variant without options: a placement rule and an allocation."""

    def build(o: dict[str, Any]) -> RopeVariant:
        return RopeVariant(name, o, placement, allocation, pos.unit_spacing, "none")

    return build


def _build_m_rope_time(o: dict[str, Any]) -> RopeVariant:
    tps = o["tokens_per_second"]
    tau = pos.absolute_time(tps)
    return RopeVariant("m-rope-time", o, "mrope", "sectioned", tau, f"⌊f·{tps:g}·S⌋ (absolute time)")


def _build_delta(name: str, placement_key: str | None, alloc_key: str | None, placement: str, alloc: str):
    alloc_names = {"low": "temporal-low", "high": "temporal-high", "interleaved": "interleaved"}
    layout_names = {"diagonal": "diagonal", "mrope": "mrope"}

    def build(o: dict[str, Any]) -> RopeVariant:
        place = layout_names[o[placement_key]] if placement_key else placement
        allocation = alloc_names[o[alloc_key]] if alloc_key else alloc
        delta = o["delta"]
        return RopeVariant(name, o, place, allocation, pos.scaled_spacing(delta), f"δ·f (δ={delta:g})")

    return build


register_variant(
    VariantSpec(
        "vanilla",
        "1-D RoPE over the flattened sequence: every token, vision or text, takes the next index.",
        "Su et al., RoFormer: Enhanced Transformer with Rotary Position Embedding, arXiv 2104.09864",
        "p = token index on all axes; pair i turns by p·θ^(−2i/d)",
        fixed_variant("vanilla", "flat", "single"),
    )
)
register_variant(
    VariantSpec(
        "tad",
        "TAD-RoPE: 1-D index plus a frame index shared within a frame, on alternate pairs.",
        "Gao et al., TC-LLaVA: Rethinking the Transfer from Image to Video Understanding with "
        "Temporal Considerations, arXiv 2409.03206",
        "h = w = token index; t = s + δ·f for vision tokens; even pairs by h, odd pairs by t",
        _build_delta("tad", None, None, "tad", "tad-dual"),
        defaults={"delta": 1.0},
    )
)
register_variant(
    VariantSpec(
        "rope-tie",
        "RoPE-Tie in 3-D: M-RoPE with both spatial axes stretched to the longer side (symmetric).",
        "Su, Transformer upgrade path 17: simple thoughts on multimodal positional encoding, "
        "kexue.fm/archives/10040 (2024)",
        "t = s + f; h = s − 1 + (y+1)(M+1)/(H+1); w = s − 1 + (x+1)(M+1)/(W+1); M = max(H, W)",
        fixed_variant("rope-tie", "tie", "sectioned"),
    )
)
register_variant(
    VariantSpec(
        "m-rope",
        "M-RoPE of Qwen2-VL: (s+f, s+y, s+x), t on the highest frequencies (section [16,24,24]).",
        "Wang et al., Qwen2-VL: Enhancing Vision-Language Model's Perception of the World at Any "
        "Resolution, arXiv 2409.12191",
        "(t, h, w) = (s + f, s + y, s + x); text after at s + max(T, H, W)",
        fixed_variant("m-rope", "mrope", "sectioned"),
    )
)
register_variant(
    VariantSpec(
        "m-rope-time",
        "Qwen2.5-VL: M-RoPE with the temporal index aligned to absolute time.",
        "Bai et al., Qwen2.5-VL Technical Report, arXiv 2502.13923",
        "t = s + ⌊f·tokens_per_second·S⌋ (S seconds per temporal unit); h, w as M-RoPE",
        _build_m_rope_time,
        defaults={"tokens_per_second": 2.0},
    )
)
register_variant(
    VariantSpec(
        "mrope-interleaved",
        "Qwen3-VL: M-RoPE positions with t/h/w interleaved over the frequencies ([24,20,20]).",
        "Qwen Team, Qwen3-VL Technical Report, arXiv 2511.21631",
        "positions as M-RoPE (one run per frame, time in timestamp text); h pairs 1,4,..; w 2,5,..",
        fixed_variant("mrope-interleaved", "mrope", "interleaved"),
    )
)
register_variant(
    VariantSpec(
        "videorope",
        "VideoRoPE: diagonal layout, low-frequency temporal allocation, temporal spacing δ.",
        "Wei et al., VideoRoPE: What Makes for Good Video Rotary Position Embedding?, arXiv 2502.05173",
        "t = s + δf; h = t + y − ⌊(H−1)/2⌋; w = t + x − ⌊(W−1)/2⌋; t on the lowest pairs",
        _build_delta("videorope", "layout", "alloc", "diagonal", "temporal-low"),
        defaults={"delta": 2.0, "layout": "diagonal", "alloc": "low"},
        choices={"layout": ("diagonal", "mrope"), "alloc": ("low", "high", "interleaved")},
    )
)
register_variant(
    VariantSpec(
        "hope",
        "HoPE: VideoRoPE's layout with the temporal frequencies set to zero and temporal scaling δ.",
        "Li et al., HoPE: Hybrid of Position Embedding for Length Generalization in "
        "Vision-Language Models, arXiv 2505.20444",
        "positions as VideoRoPE with spacing δ; the lowest (temporal) pairs are not rotated",
        _build_delta("hope", None, None, "diagonal", "temporal-zero"),
        defaults={"delta": 1.0},
    )
)
