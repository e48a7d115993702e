"""The RoPE variant registry: the single source of truth for names, options, papers and equations.

A variant is three independent choices:
  1. a placement rule for vision runs (niah.rope.positions.PLACEMENT_RULES), with its options,
     giving N coordinate rows named by `axes` (t, h, w; VRoPE's p0–p3);
  2. a frequency allocation (niah.rope.frequencies.ALLOCATIONS), per pair or per KV head, and
     optionally a per-pair frequency change (GRAPE's log_freq_scale);
  3. a temporal index τ(f) (unit spacing, δ·f, or absolute time).

A registry entry is a `VariantSpec`: name, one-line description, paper, equation, option
defaults, and a `build(options) -> RopeVariant` function. Options come in the name string,
``videorope:delta=1.5,alloc=high``, the same syntax in the CLI, Python and run files; unknown
options are errors. Users add variants with `register_variant` (e.g. from a ``--plugin`` file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from niah.errors import NiahError, unknown
from niah.rope import frequencies as fq
from niah.rope import positions as pos
from niah.rope.layout import Layout
from niah.rope.modifiers import (
    SEPARATOR,
    Modifier,
    modified_base,
    modified_inv_freq,
    modified_pairs,
    parse_modifier,
    rotated_layers,
)
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
    axes: tuple[str, ...] = ("t", "h", "w")  # one name per coordinate row of the position ids
    placement_options: Mapping[str, Any] = field(default_factory=dict)  # keyword arguments of the rule
    allocation_options: Mapping[str, Any] = field(default_factory=dict)
    truncate: bool = False  # positions stored as int64 rounded toward zero (an integer-tensor implementation)
    log_freq_scale: float = 1.0  # every inverse frequency ω_i → ω_i^(1/s) (GRAPE); 1: unchanged

    @property
    def spec(self) -> str:
        """The canonical name string with every option spelled out, e.g. 'videorope:delta=2,...',
        then its modifiers, e.g. '+yarn:factor=4,...'."""
        text = self.name
        if self.options:
            text += ":" + ",".join(f"{k}={fmt(v)}" for k, v in self.options.items())
        return text + "".join(m.text for m in self.modifiers)

    @property
    def label(self) -> str:
        """The name with only the options that differ from the registry's defaults, then the
        modifiers: a short label for figures ('circlerope:dff_rate=0', 'videorope+p=0.75')."""
        defaults = VARIANTS[self.name].defaults if self.name in VARIANTS else {}
        changed = [f"{k}={fmt(v)}" for k, v in self.options.items() if defaults.get(k) != v]
        return self.name + (":" + ",".join(changed) if changed else "") + "".join(m.text for m in self.modifiers)

    @property
    def per_head(self) -> bool:
        """Whether the allocation differs per KV head (then axis_of_pair is (kv_heads, d/2))."""
        return self.allocation == "per-head"

    def layer_rotation(self, layers: int) -> list[bool]:
        """Whether each of `layers` attention layers rotates at all (False: NoPE there, `+nope`)."""
        return rotated_layers(self.modifiers, layers)

    @property
    def by_layer(self) -> bool:
        """Whether some layers rotate and others not (a layers-stage modifier): hosts must apply it per layer."""
        return any(m.spec.stage == "layers" for m in self.modifiers)

    def require_layer_effect(self, layers: int, where: str, rotating: Sequence[int] | None = None) -> None:
        """Raise NiahError when a layers-stage modifier turns rotary off in none of `where`'s layers
        that rotate (`rotating`: their indices among its `layers`; every layer, all attention, by
        default): it would change nothing there."""
        if not self.by_layer:
            return
        rotation = self.layer_rotation(layers)
        indices = list(range(layers)) if rotating is None else list(rotating)
        noun = "attention layers" if rotating is None else "attention layers that rotate"
        if all(rotation[i] for i in indices):
            raise NiahError(f"{self.label} turns rotary off in none of {where}'s {len(indices)} {noun} "
                            f"(layers {', '.join(map(str, indices))}), so it would change nothing there: choose "
                            "a smaller every")  # fmt: skip

    def require_shared_table(self, where: str) -> None:
        """Raise NiahError when this variant needs a rotary table per KV head and `where` (a
        backend or trainer) applies one table to every head."""
        if self.per_head:
            raise NiahError(f"{self.label} allocates frequencies per KV head; {where} applies one "
                            "rotary table to every head, so it cannot run it (see: niah rope allocation "
                            f"{self.name})")  # fmt: skip

    def position_array(self, layout: Layout | str) -> np.ndarray:
        """Positions of shape (N, L), N = len(axes), as numpy: int64 where integral, else float64 (no torch)."""
        layout = Layout.parse(layout) if isinstance(layout, str) else layout
        ids = pos.position_ids(layout, self.placement, self.temporal, self.placement_options, len(self.axes))
        return pos.as_exact(ids, self.truncate)

    def position_ids(self, layout: Layout | str) -> torch.Tensor:
        """Positions of shape (N, L) as a torch tensor: int64 where integral, else float64.

        Invariant the hf backend's prefix reuse relies on, and checks before it reuses a cache: the
        positions of a layout's first k tokens depend only on those tokens' runs, never on the
        runs after them. A variant that breaks it (e.g. positions scaled by the whole video's
        length) still runs correctly: the runner recomputes from the first token whose position
        differs."""
        import torch

        return torch.from_numpy(self.position_array(layout))

    def axis_of_pair(self, head_dim: int, section: fq.Section | None = None) -> np.ndarray:
        """Row of the position ids driving each frequency pair, shape (head_dim/2,), or
        (kv_heads, head_dim/2) per KV head: 0 t, 1 h, 2 w (or p0..p3), -1 unrotated. head_dim is
        the rotated part of a head (niah.rope.frequencies.rotary_dim under partial rotary)."""
        axis = fq.ALLOCATIONS[self.allocation](head_dim, section, **self.allocation_options)
        return modified_pairs(self.modifiers, axis, fq.UNROTATED)

    def inverse_frequencies(self, head_dim: int, base: float) -> tuple[torch.Tensor, float]:
        """(θ^(−2i/d) after the variant's own frequency change and the modifiers, float32 (d/2,),
        the cos/sin scale they ask for: 1 but YaRN)."""
        import torch

        from niah.rope.tables import inverse_frequencies

        base = modified_base(self.modifiers, base, head_dim)
        inv_freq = inverse_frequencies(head_dim, base)
        if self.log_freq_scale != 1.0:  # GRAPE: freq_allocation/grape.py:436-438, in float32
            inv_freq = torch.exp(inv_freq.log() / self.log_freq_scale)
        return modified_inv_freq(self.modifiers, inv_freq, head_dim, base)

    def rotary_tables(
        self,
        position_ids: torch.Tensor,
        head_dim: int,
        base: float,
        section: fq.Section | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape (..., L, head_dim) for position ids of shape (N, ..., L), or
        (..., kv_heads, L, head_dim) for a per-head allocation; dtype float32 unless given (the
        angles are formed in float32 whatever the dtype)."""
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
    neutral: Mapping[str, Any] = field(default_factory=dict)  # values at which an option changes nothing (stride 1)

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
        neutral={"delta": 1.0},
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
        neutral={"delta": 1.0},
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
        neutral={"delta": 1.0},
    )
)


# ---------------------------------------------------------------- the Qwen team's study and VRoPE
# Names, option keywords and defaults as JJJYmmm/Multimodal-RoPEs at cd413b9e registers them
# (multimodal_ropes/entry.py SUPPORT_MM_ROPES; defaults = its pinned test configuration,
# tests/test_rope_golden_hf4571.py:74-128); each rule cites the upstream file and lines it follows.


UNIT_STRIDE = {"temporal_stride": 1.0}
"""The study's temporal stride option at its default, which is also its neutral value."""


def _stride_text(stride: float) -> str:
    return "none" if stride == 1 else f"δ·f (δ={stride:g})"


def _positive(name: str, o: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        values = o[key] if isinstance(o[key], tuple) else (o[key],)
        if not all(v > 0 for v in values):
            raise NiahError(f"{name}: {key}={fmt(o[key])} must be positive")


def _build_mhrope(o: dict[str, Any]) -> RopeVariant:
    """pos_design/mrope_i.py (integer storage, lines 36-42 and 152; spatial reset 122-132) and
    freq_allocation/mhrope.py (head groups, unused heads zero)."""
    _positive("mhrope", o, "temporal_stride", "num_key_value_heads")
    heads, kv = o["mrope_section"], o["num_key_value_heads"]
    if min(heads) < 0 or sum(heads) > kv:
        raise NiahError(f"mhrope: mrope_section={fmt(heads)} counts KV heads per axis (t, h, w); they must be "
                        f"non-negative and sum to at most num_key_value_heads={kv}")  # fmt: skip
    stride = o["temporal_stride"]
    return RopeVariant("mhrope", o, "mrope", "per-head", pos.scaled_spacing(stride), _stride_text(stride),
                       placement_options={"spatial_reset": o["spatial_reset"]},
                       allocation_options={"heads": heads, "kv_heads": kv}, truncate=True)  # fmt: skip


def _build_reset(name: str, allocation: str) -> Callable[[dict[str, Any]], RopeVariant]:
    """pos_design/omnirope.py:69-115 (IL-RoPE calls it too, pos_design/ilrope.py): float storage,
    spatial reset, text after at s + max((T−1)·stride + 1, H, W)."""

    def build(o: dict[str, Any]) -> RopeVariant:
        _positive(name, o, "temporal_stride")
        stride = o["temporal_stride"]
        return RopeVariant(name, o, "mrope", allocation, pos.scaled_spacing(stride), _stride_text(stride),
                           placement_options={"spatial_reset": True})  # fmt: skip

    return build


def _build_mmrope(o: dict[str, Any]) -> RopeVariant:
    """pos_design/mmrope.py:28, 103-129 (scaled t, h, w; float storage) and freq_allocation/mmrope.py."""
    _positive("mmrope", o, "temporal_stride", "position_scale")
    scale_t, scale_h, scale_w = o["position_scale"]
    stride = o["temporal_stride"] * scale_t
    return RopeVariant("mmrope", o, "mrope", "cycle", pos.scaled_spacing(stride), _stride_text(stride),
                       placement_options={"spatial_scale": (scale_h, scale_w)},
                       allocation_options={"pattern": (0, 0, 1, 2, 1, 2, 1, 2)})  # fmt: skip


def _build_v2pe(o: dict[str, Any]) -> RopeVariant:
    """pos_design/v2pe.py:56-110 (float storage) with freq_allocation/vanilla.py (1-D)."""
    _positive("v2pe", o, "visual_stride")
    return RopeVariant("v2pe", o, "v2pe", "single", pos.unit_spacing, "none",
                       placement_options={"visual_stride": o["visual_stride"]})  # fmt: skip


CIRCLE_DEFAULTS = {"temporal_stride": 1.0, "radius": 10.0, "alpha": 0.5, "method": "circle", "move_to_origin": True,
                   "move_to_positive": "false", "dff_rate": 1.0}  # fmt: skip
"""circlerope's options at upstream's pinned test configuration (dff_rate True: the grid, turned)."""


def _build_circlerope(o: dict[str, Any]) -> RopeVariant:
    """pos_design/circlerope.py:106-137 and 190-415 (float storage), freq_allocation/mrope.py (chunked)."""
    _positive("circlerope", o, "temporal_stride")
    for key in ("alpha", "dff_rate"):
        if not 0 <= o[key] <= 1:
            raise NiahError(f"circlerope: {key}={o[key]:g} must be in [0, 1]")
    if o["method"] != "circle" or o["dff_rate"] == 1:  # no circle: its settings would change nothing
        inert = [f"{k}={fmt(o[k])}" for k in ("radius", "alpha", "method", "dff_rate") if o[k] != CIRCLE_DEFAULTS[k]]
        if inert:
            raise NiahError(f"circlerope: {', '.join(inert)} changes nothing while the circle is off "
                            "(method=no_circle) or blended out (dff_rate=1, the default): give method=circle with "
                            "dff_rate below 1, e.g. circlerope:dff_rate=0")  # fmt: skip
    stride = o["temporal_stride"]
    options = {k: o[k] for k in ("radius", "alpha", "method", "move_to_origin", "dff_rate")}
    options["move_to_positive"] = _positive_offset(o["move_to_positive"])
    return RopeVariant("circlerope", o, "circle", "sectioned", pos.scaled_spacing(stride), _stride_text(stride),
                       placement_options=options)  # fmt: skip


def _positive_offset(text: str) -> float | None:
    """CircleRoPE's move_to_positive as upstream reads it (circlerope.py:234-239): false → off,
    auto → shift by |min|, true → |min| + 1 (float(True)), a number k > 0 → |min| + k."""
    named = {"false": None, "auto": 0.0, "true": 1.0}
    if text.lower() in named:
        return named[text.lower()]
    try:
        offset = float(text)
    except ValueError:
        offset = -1.0
    if not offset > 0:
        raise NiahError(f"circlerope: move_to_positive={text} must be false, auto, true or a positive offset")
    return offset


def _build_grape(o: dict[str, Any]) -> RopeVariant:
    """pos_design/mrope.py (integer storage, lines 36-42) and freq_allocation/grape.py:406-419
    (chunked = M-RoPE's sections, interleaved = pair i on axis i mod 3) and 436-438 (log_freq_scale)."""
    if o["grape_mode"] != "canonical":
        raise NiahError(f"grape:grape_mode={o['grape_mode']} rotates q and k by trained planes, not by a cos/sin "
                        "table: niah runs grape_mode=canonical only")  # fmt: skip
    _positive("grape", o, "temporal_stride", "log_freq_scale")
    stride = o["temporal_stride"]
    chunked = o["frequency_allocation"] == "chunked"
    return RopeVariant("grape", o, "mrope", "sectioned" if chunked else "cycle", pos.scaled_spacing(stride),
                       _stride_text(stride), allocation_options={} if chunked else {"pattern": (0, 1, 2)},
                       truncate=True, log_freq_scale=o["log_freq_scale"])  # fmt: skip


def _build_vrope(o: dict[str, Any]) -> RopeVariant:
    """johncaged/VRoPE vrope.py:98-154 (integer positions; half_time_dim forced to 0 at line 80)."""
    return RopeVariant("vrope", o, "vrope", "cycle", pos.unit_spacing, "none", axes=("p0", "p1", "p2", "p3"),
                       allocation_options={"pattern": (0, 1, 2, 3)})  # fmt: skip


register_variant(VariantSpec(
    "mhrope",
    "Multi-Head RoPE: each KV-head group rotates all its pairs by one axis (t, h, w), the rest unrotated.",
    "Huang et al., Revisiting Multimodal Positional Encoding in Vision-Language Models, arXiv 2510.23095",
    "(t, h, w) = (s + stride·f, y, x) with spatial reset; KV heads [2,3,3] of 8 → t, h, w; others none",
    _build_mhrope,
    defaults={"temporal_stride": 1.0, "spatial_reset": True, "num_key_value_heads": 8, "mrope_section": (2, 3, 3)},
    neutral={"temporal_stride": 1.0},
))
register_variant(VariantSpec(
    "circlerope",
    "CircleRoPE: each frame's grid mapped onto a circle perpendicular to the text direction.",
    "Wang et al., Circle-RoPE: Cone-like Decoupled Rotary Positional Embedding for Large "
    "Vision-Language Models, arXiv 2505.16416",
    "(w, h, t) = a·u + b·v, (a, b) = (1−r)·circle(x, y) + r·(x, y); u, v ⟂ (1, 1, 1); + s + stride·f",
    _build_circlerope,
    defaults=CIRCLE_DEFAULTS,
    choices={"method": ("circle", "no_circle")},
    neutral={"temporal_stride": 1.0},
))
register_variant(VariantSpec(
    "v2pe",
    "V2PE: 1-D positions; every frame or image spans visual_stride positions, however many tokens it has.",
    "Ge et al., V2PE: Improving Multimodal Long-Context Capability of Vision-Language Models with "
    "Variable Visual Position Encoding, arXiv 2412.09616",
    "token k of n in a block at ℓ + visual_stride·k/n; next at ⌈ℓ + visual_stride⌉ + 1",
    _build_v2pe,
    defaults={"visual_stride": 16.0},
))
register_variant(VariantSpec(
    "ilrope",
    "IL-RoPE: spatial reset (every frame's grid from 0) with Qwen3-VL's interleaved allocation.",
    "Liao et al., Mogao: An Omni Foundation Model for Interleaved Multi-Modal Generation, arXiv 2505.05472",
    "(t, h, w) = (s + stride·f, y, x); text after at s + max(stride·(T−1) + 1, H, W); interleaved pairs",
    _build_reset("ilrope", "interleaved"),
    defaults=UNIT_STRIDE,
    neutral=UNIT_STRIDE,
))
register_variant(VariantSpec(
    "omnirope",
    "OmniRoPE (OmniGen2): spatial reset (every frame's grid from 0) with M-RoPE's chunked allocation.",
    "Wu et al., OmniGen2: Exploration to Advanced Multimodal Generation, arXiv 2506.18871",
    "(t, h, w) = (s + stride·f, y, x); text after at s + max(stride·(T−1) + 1, H, W); sections t, h, w",
    _build_reset("omnirope", "sectioned"),
    defaults=UNIT_STRIDE,
    neutral=UNIT_STRIDE,
))
register_variant(VariantSpec(
    "mmrope",
    "MM-RoPE: M-RoPE positions scaled per axis, pairs in meta components [t,t,h,w,h,w,h,w].",
    "Yuan et al., Lumos-1: On Autoregressive Video Generation from a Unified Model Perspective, arXiv 2507.08801",
    "(t, h, w) = (s + a_t·stride·f, s + a_h·y, s + a_w·x); pair i on (t,t,h,w,h,w,h,w)[i mod 8]",
    _build_mmrope,
    defaults={"temporal_stride": 1.0, "position_scale": (4.0, 8.0, 8.0)},
    neutral={"temporal_stride": 1.0, "position_scale": (1.0, 1.0, 1.0)},
))
register_variant(VariantSpec(
    "grape",
    "GRAPE (canonical): M-RoPE positions, chunked or interleaved planes, frequencies ω^(1/log_freq_scale).",
    "Group Representational Position Encoding (GRAPE), openreview.net/forum?id=itoNJ3gJl2",
    "(t, h, w) = (s + stride·f, s + y, s + x); ω_i → exp(ln ω_i / log_freq_scale)",
    _build_grape,
    defaults={"temporal_stride": 1.0, "log_freq_scale": 1.0, "frequency_allocation": "chunked",
              "grape_mode": "canonical"},
    choices={"frequency_allocation": ("chunked", "interleaved"),
             "grape_mode": ("canonical", "axis", "mixed", "block_mixed")},
    neutral={"temporal_stride": 1.0},
))
register_variant(VariantSpec(
    "vrope",
    "VRoPE: four coordinates per token, a frame's diagonals seen from its four corners; pair i on p(i mod 4).",
    "Liu et al., VRoPE: Rotary Position Embedding for Video Large Language Models, arXiv 2502.11664",
    "p0..p3 = s + f·(H+W−1) + (y or H−1−y) + (x or W−1−x); text after at s + T·(H+W−1)",
    _build_vrope,
))  # fmt: skip
register_variant(
    VariantSpec(
        "hy4-block",
        "HY-V4-VL: every frame a block of max(H, W) positions on the diagonal, t/h/w interleaved.",
        "Tencent Hunyuan, HY-V4-VL, transformers 5.25 models/hy_v4_vl (get_vision_position_ids; no paper)",
        "t = s + f·max(H, W); h = t + y; w = t + x; text after at the block's end; pairs as mrope-interleaved",
        fixed_variant("hy4-block", "block", "interleaved"),
    )
)
