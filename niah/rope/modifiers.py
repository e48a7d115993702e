"""Context-extension modifiers that compose with any variant: `VARIANT+MODIFIER+...`.

    m-rope+yarn:factor=4            YaRN (arXiv 2309.00071) on M-RoPE's frequencies
    videorope:delta=2+theta=5e6     another RoPE base ("Base of RoPE bounds context length", 2405.14591)
    vanilla+ntk:factor=4+p=0.75     NTK-aware base, then p-RoPE (2410.06205) without the lowest quarter

A modifier acts at one of four stages, applied in this order whatever the order written:
  base      the RoPE base θ before the inverse frequencies are formed (theta, ntk);
  inv_freq  the float32 inverse frequencies θ^(−2i/d) and a cos/sin scale (linear, yarn);
  pairs     which frequency pairs rotate at all (p);
  layers    which attention layers rotate at all (nope: CohereCompass's NoPE global layers); the
            hosts apply it (the hf backend per decoder layer, the tiny model per block), the probe,
            which has no layers, refuses it.
The inv_freq rules follow transformers' `modeling_rope_utils` (`linear`, `dynamic`, `yarn` rope
types: same float32 arithmetic, tested equal in tests/rope/test_modifiers.py); `head_dim` here is
the rotated part of a head. `+` joins modifiers because `:` and `,` already carry a variant's own
options; a `+` inside a number (5e+06) is not a separator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from niah.errors import NiahError, unknown
from niah.rope.options import fmt, parse_options, resolve_options

if TYPE_CHECKING:
    import torch

SEPARATOR = re.compile(r"\+(?=[A-Za-z])")
"""Splits 'videorope:delta=2+yarn:factor=4' into the variant and its modifiers (not '5e+06')."""


@dataclass(frozen=True)
class ModifierSpec:
    """One registry entry: name, stage, option defaults and the rule (see the module docstring)."""

    name: str
    stage: str  # "base" | "inv_freq" | "pairs" | "layers"
    description: str
    source: str
    defaults: Mapping[str, Any]
    rule: Callable[..., Any]
    shorthand: str | None = field(default=None)  # `+theta=5e6` sets this option


@dataclass(frozen=True)
class Modifier:
    """A resolved modifier: its registry entry and every option's value."""

    spec: ModifierSpec
    options: Mapping[str, Any]

    @property
    def text(self) -> str:
        """The canonical spelling, e.g. '+yarn:factor=4,original=32768,...' or '+theta=5e+06'."""
        if self.spec.shorthand:
            return f"+{self.spec.name}={fmt(self.options[self.spec.shorthand])}"
        return f"+{self.spec.name}:" + ",".join(f"{k}={fmt(v)}" for k, v in self.options.items())


MODIFIERS: dict[str, ModifierSpec] = {}


def register_modifier(spec: ModifierSpec) -> ModifierSpec:
    MODIFIERS[spec.name] = spec
    return spec


def parse_modifier(text: str) -> Modifier:
    """'yarn:factor=4' or 'theta=5e6' (without the leading '+') → Modifier; unknown names suggest."""
    name, colon, rest = text.partition(":")
    if not colon and "=" in name:  # the shorthand form, theta=5e6
        name, _, value = name.partition("=")
        spec = MODIFIERS.get(name)
        if spec is None or spec.shorthand is None:
            raise unknown("RoPE modifier", name, MODIFIERS)
        raw = {spec.shorthand: value}
    else:
        if name not in MODIFIERS:
            raise unknown("RoPE modifier", name, MODIFIERS)
        raw = parse_options(rest, f"modifier '+{text}'")
    spec = MODIFIERS[name]
    options = resolve_options(f"modifier '+{name}'", f"'+{name}'", raw, spec.defaults)
    if any(isinstance(v, float) and not math.isfinite(v) for v in options.values()):
        raise NiahError(f"modifier '+{text}' needs finite numbers")
    _check(spec.name, options)
    return Modifier(spec, options)


def _check(name: str, o: dict[str, Any]) -> None:
    if "factor" in o and o["factor"] < 1:
        raise NiahError(f"+{name}: factor={o['factor']:g} must be ≥ 1 (it extends the context)")
    if name == "p" and not 0 < o["p"] <= 1:
        raise NiahError(f"+p={o['p']:g}: the fraction of rotated pairs must be in (0, 1]")
    if name == "theta" and o["theta"] <= 1:
        raise NiahError(f"+theta={o['theta']:g}: the RoPE base must be > 1")
    if name == "nope" and (o["every"] < 1 or o["every"] != int(o["every"])):
        raise NiahError(f"+nope:every={o['every']:g} must be a whole number of layers ≥ 1")
    if o.get("original", 1) < 1:
        raise NiahError(f"+{name}: original={o['original']} must be a positive context length")


# ---------------------------------------------------------------- applying a variant's modifiers


def modified_base(modifiers: tuple[Modifier, ...], base: float, head_dim: int) -> float:
    """θ after the base-stage modifiers, in the order written."""
    for m in modifiers:
        if m.spec.stage == "base":
            base = m.spec.rule(base, head_dim, m.options)
    return base


def modified_inv_freq(modifiers: tuple[Modifier, ...], inv_freq: torch.Tensor, head_dim: int,
                      base: float) -> tuple[torch.Tensor, float]:  # fmt: skip
    """(inverse frequencies, cos/sin scale) after the inv_freq-stage modifiers."""
    scale = 1.0
    for m in modifiers:
        if m.spec.stage == "inv_freq":
            inv_freq, factor = m.spec.rule(inv_freq, head_dim, base, m.options)
            scale *= factor
    return inv_freq, scale


def modified_pairs(modifiers: tuple[Modifier, ...], axis_of_pair: np.ndarray, unrotated: int) -> np.ndarray:
    """The allocation after the pairs-stage modifiers (pairs they drop get `unrotated`)."""
    for m in modifiers:
        if m.spec.stage == "pairs":
            axis_of_pair = m.spec.rule(axis_of_pair, unrotated, m.options)
    return axis_of_pair


def rotated_layers(modifiers: tuple[Modifier, ...], layers: int) -> list[bool]:
    """Whether each of `layers` attention layers (in order, 0 first) rotates at all, after the
    layers-stage modifiers (every layer without one)."""
    keep = [True] * layers
    for m in modifiers:
        if m.spec.stage == "layers":
            keep = [k and m.spec.rule(i, m.options) for i, k in enumerate(keep)]
    return keep


# ---------------------------------------------------------------- the rules


def _theta(base: float, head_dim: int, o: Mapping[str, Any]) -> float:
    return float(o["theta"])


def _ntk(base: float, head_dim: int, o: Mapping[str, Any]) -> float:
    """transformers' 'dynamic' rope type at sequence length seq_len (default factor × original)."""
    seq_len = max(o["seq_len"] or o["factor"] * o["original"], o["original"])
    return base * ((o["factor"] * seq_len / o["original"]) - (o["factor"] - 1)) ** (head_dim / (head_dim - 2))


def _linear(inv_freq: torch.Tensor, head_dim: int, base: float, o: Mapping[str, Any]) -> tuple[torch.Tensor, float]:
    return inv_freq / o["factor"], 1.0


def _yarn(inv_freq: torch.Tensor, head_dim: int, base: float, o: Mapping[str, Any]) -> tuple[torch.Tensor, float]:
    """YaRN's ramp between interpolated (÷factor) and original frequencies by rotations per
    original context, and its attention factor 0.1·ln(factor) + 1 on cos and sin."""
    import torch

    factor, original = o["factor"], o["original"]

    def correction_dim(rotations: float) -> float:
        return head_dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = correction_dim(o["beta_fast"]), correction_dim(o["beta_slow"])
    if o["truncate"]:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, head_dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = base ** (torch.arange(0, head_dim, 2).to(dtype=torch.float) / head_dim)
    ramp = torch.clamp((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    keep = 1 - ramp  # 1: the original (extrapolated) frequency, 0: interpolated
    inv = (1.0 / (factor * pos_freqs)) * (1 - keep) + (1.0 / pos_freqs) * keep
    attention = o["attention_factor"] or (0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0)
    return inv.to(inv_freq.device), attention


def _nope(layer: int, o: Mapping[str, Any]) -> bool:
    """Layer i rotates unless i + 1 is a multiple of `every` (CohereCompass: 3 sliding-window layers
    with rotary, then one global layer without, its layer_types rule (i + 1) % 4)."""
    return (layer + 1) % int(o["every"]) != 0


def _p_rope(axis_of_pair: np.ndarray, unrotated: int, o: Mapping[str, Any]) -> np.ndarray:
    """Keep the ⌊p·d/2⌋ highest-frequency pairs (the lowest indices) rotating; the rest stop."""
    axis = np.array(axis_of_pair)
    axis[..., int(math.floor(o["p"] * axis.shape[-1])):] = unrotated
    return axis


register_modifier(ModifierSpec(
    "theta", "base", "another RoPE base θ", "Xu et al., Base of RoPE Bounds Context Length, arXiv 2405.14591",
    {"theta": 1e6}, _theta, shorthand="theta"))
register_modifier(ModifierSpec(
    "ntk", "base", "NTK-aware base for seq_len tokens (0: factor × original), transformers' 'dynamic'",
    "bloc97 and emozilla (2023), transformers modeling_rope_utils._compute_dynamic_ntk_parameters",
    {"factor": 4.0, "original": 32768, "seq_len": 0}, _ntk))
register_modifier(ModifierSpec(
    "linear", "inv_freq", "position interpolation: every frequency ÷ factor",
    "Chen et al., Extending Context Window of LLMs via Positional Interpolation, arXiv 2306.15595",
    {"factor": 4.0}, _linear))
register_modifier(ModifierSpec(
    "yarn", "inv_freq", "YaRN: interpolate low frequencies, keep high ones, scale attention (0: 0.1·ln factor + 1)",
    "Peng et al., YaRN: Efficient Context Window Extension of LLMs, arXiv 2309.00071",
    {"factor": 4.0, "original": 32768, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": True,
     "attention_factor": 0.0}, _yarn))
register_modifier(ModifierSpec(
    "p", "pairs", "p-RoPE: only the fraction p of highest-frequency pairs rotates",
    "Barbero et al., Round and Round We Go! What makes Rotary Positional Encodings useful?, arXiv 2410.06205",
    {"p": 0.75}, _p_rope, shorthand="p"))  # fmt: skip
register_modifier(ModifierSpec(
    "nope", "layers", "no rotary at all in layers every−1, 2·every−1, … (CohereCompass's global layers: every=4)",
    "Cohere, CohereCompass, transformers 5.25 models/cohere_compass (layer_types; rope_parameters None for its "
    "full-attention layers; no paper)", {"every": 4}, _nope))  # fmt: skip
