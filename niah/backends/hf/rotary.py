"""The model's rotary embedding replaced in place by one built from the niah.rope registry.

transformers 5.x text models call ``self.rotary_emb(x, position_ids)`` once per forward with
position ids of shape (3, B, L) and apply the returned (cos, sin) of shape (B, L, rotary_dim) in
every layer. `VariantRotary` computes them with the variant's frequency allocation (an axis per
pair, niah.rope.frequencies), its modifiers (niah.rope.modifiers) and the model's rotary dims,
theta and mrope_section. Under partial rotary (Qwen3.5: a quarter of head_dim) the allocation is
formed over the rotated dims only and the model passes the rest of each head through, as its own
rotary module does. Built with the model's own allocation it reproduces the original tables bit
for bit (tests/rope). A model that pairs adjacent dims (GLM-4.1V) gets the same tables in its
layout (niah.rope.tables.PAIR_LAYOUTS, named by the family). Where the config keys its
rope_parameters by layer type and the types differ (LFM3: θ 1e4 in its sliding-window layers,
'proportional' θ 1e6 over half of each head in its global ones), the model asks per type and each
type gets the variant's tables at its own θ and dims; 'proportional' is the variant with only that
fraction of the head's highest-frequency pairs rotating (the `+p` modifier's rule, which is
transformers' _compute_proportional_rope_parameters for the 1-D allocation).

A variant that allocates per KV head (mhrope) returns tables of shape (B, KV heads, L, rotary_dim);
the modeling module's `apply_rotary_pos_emb` is then wrapped (once per module, by `install`) so
that each query head rotates with its KV head's table (query head j uses KV head j // group, as
transformers' repeat_kv pairs them; upstream's apply_multihead_rotary_pos_emb does the same). For
tables of shape (B, L, d) the wrapper calls the model's own function unchanged.

A variant that turns rotary off in some layers (`+nope`) gets a forward pre-hook on every decoder
layer (once per model) that hands the layers it lists (1, 0) tables: no rotation there.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import NamedTuple

import torch
from torch import nn

from niah.backends.hf.runner import STATE_KINDS
from niah.errors import NiahError
from niah.rope import RopeVariant
from niah.rope.modifiers import parse_modifier
from niah.rope.tables import PAIR_LAYOUTS, PairLayout


def text_config(config):
    return getattr(config, "text_config", config)


class RopeSettings(NamedTuple):
    """One layer type's rotary: rotated dims, base θ, mrope_section (None: 1-D positions) and, for
    transformers' 'proportional' rope type (LFM3's global layers), the fraction of the head's pairs
    that rotate (the highest-frequency ones, θ^(−2i/head_dim); None: every rotated pair)."""

    dims: int
    theta: float
    section: list[int] | None
    proportion: float | None = None


ROPE_TYPES = ("default", "proportional")
"""The rope types niah reproduces (transformers' modeling_rope_utils names)."""


def layer_rope_settings(config) -> dict[str | None, RopeSettings]:
    """Rotating layer type → its `RopeSettings`, where the text config keys rope_parameters by layer
    type (CohereCompass: its sliding-window layers' own, None for its global NoPE layers; LFM3: θ 1e4
    in its sliding-window layers, 'proportional' θ 1e6 over half the head in its global ones); else
    {None: the one set every layer uses}. Rotary dims = ⌊head_dim · partial_rotary_factor⌋ (all of
    head_dim without one, and always for 'proportional', which rotates the fraction of pairs)."""
    tc = text_config(config)
    params = getattr(tc, "rope_parameters", None) or {}
    types = set(getattr(tc, "layer_types", None) or ())
    if not types & set(params):
        return {None: _settings(tc, params)}
    rotating = {t: params[t] for t in sorted(types & set(params)) if params[t] is not None}
    if not rotating:
        raise NiahError("this checkpoint rotates its layer types with no rope_parameters: niah has no rotary to "
                        "reproduce")  # fmt: skip
    return {t: _settings(tc, p) for t, p in rotating.items()}


def _settings(tc, params: dict) -> RopeSettings:
    from niah.rope.frequencies import rotary_dim

    rope_type = params.get("rope_type", "default")
    if rope_type not in ROPE_TYPES:
        raise NiahError(f"rope_type '{rope_type}' of this checkpoint is not supported (only {', '.join(ROPE_TYPES)})")
    head_dim = getattr(tc, "head_dim", None) or tc.hidden_size // tc.num_attention_heads
    partial = params.get("partial_rotary_factor", getattr(tc, "partial_rotary_factor", None)) or 1.0
    theta = params.get("rope_theta", getattr(tc, "rope_theta", None))
    if theta is None:  # never guess: Qwen2-VL uses 1e6, Qwen3-VL 5e6, a guess would rotate every position wrongly
        raise NiahError("this checkpoint's config gives no rope_theta (in rope_parameters or the text config): "
                        "add the model's own value to its config.json")  # fmt: skip
    if rope_type == "proportional":  # the whole head's frequency ladder, its lowest pairs unrotated
        return RopeSettings(head_dim, float(theta), params.get("mrope_section"), float(partial))
    try:
        dims = rotary_dim(head_dim, float(partial))
    except ValueError as err:
        raise NiahError(f"this checkpoint's rotary settings are not usable: {err}") from None
    return RopeSettings(dims, float(theta), params.get("mrope_section"))


def rotating_layers(tc, nope_global_layers: bool = False) -> list[int]:
    """The decoder layers of text config `tc` whose attention the model rotates: not linear
    attention or convolution (runner.STATE_KINDS: no attention to rotate), not a layer type whose
    rope_parameters are None (CohereCompass's global layers), and not the full-attention layers
    where `nope_global_layers` (the family's, EXAONE-4) and the config sets a sliding window."""
    kinds = getattr(tc, "layer_types", None) or ["full_attention"] * tc.num_hidden_layers
    params = getattr(tc, "rope_parameters", None) or {}
    unrotated = set(STATE_KINDS) | {t for t in set(kinds) & set(params) if params[t] is None}
    if nope_global_layers and getattr(tc, "sliding_window", None):
        unrotated.add("full_attention")
    return [i for i, kind in enumerate(kinds) if kind not in unrotated]


class VariantRotary(nn.Module):
    """Drop-in for the text model's rotary_emb: forward(x, position_ids (3, B, L)[, layer_type]) →
    cos, sin, with that layer type's settings (`layer_rope_settings`) where they differ by type.
    `layer_types`: the rotating types, which a model that asks per type (LFM3) iterates.
    `model_section`: the replaced module's own `mrope_section` (a list, or one per layer type), which
    transformers falls back to where rope_parameters names none (Qwen3.5's [11, 11, 10])."""

    def __init__(self, variant: RopeVariant, config, pair_layout: str = "half",
                 section_order: tuple[int, int, int] = (0, 1, 2),
                 model_section: list[int] | dict[str, list[int]] | None = None):  # fmt: skip
        super().__init__()
        settings = layer_rope_settings(config)
        if model_section is not None:  # in the config's order, as a config's own section
            own = model_section if isinstance(model_section, dict) else dict.fromkeys(settings, model_section)
            settings = {t: s if s.section or own.get(t) is None else s._replace(section=list(own[t]))
                        for t, s in settings.items()}  # fmt: skip
        self.settings = {t: s._replace(section=[s.section[i] for i in section_order] if s.section else None)
                         for t, s in settings.items()}  # as niah's (t, h, w)
        self.layer_types = [t for t in self.settings if t is not None]
        self.layout = PAIR_LAYOUTS[pair_layout]
        self.layers = getattr(text_config(config), "num_hidden_layers", None)
        self.set_variant(variant)

    def set_variant(self, variant: RopeVariant) -> None:
        self.variant = variant
        self.nope: set[int] = set()  # decoder layers that rotate nothing (+nope)
        if variant.by_layer:
            self.nope = {i for i, rotates in enumerate(variant.layer_rotation(self.layers)) if not rotates}
        # per layer type, formed once: 'proportional' turns only the highest-frequency pairs of the head
        self.type_variants = {t: variant if s.proportion is None else
                              replace(variant, modifiers=(*variant.modifiers, parse_modifier(f"p={s.proportion}")))
                              for t, s in self.settings.items()}  # fmt: skip

    def _type_of(self, layer_type: str | None) -> str | None:
        """The key of `settings` a layer type the model asks for rotates by."""
        if layer_type in self.settings:
            return layer_type
        first = next(iter(self.settings))
        if any(s != self.settings[first] for s in self.settings.values()):
            raise NiahError(f"the text model asked for the rotary of layer type {layer_type!r}, which its config "
                            "does not rotate: niah cannot tell which of its layer types' settings to use")  # fmt: skip
        return first

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor, layer_type: str | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        position_ids = position_ids.expand(3, -1, -1)
        key = self._type_of(layer_type)
        dims, theta, section, _ = self.settings[key]
        cos, sin = self.type_variants[key].rotary_tables(position_ids, dims, theta, section)
        return self.layout.arrange(cos).to(x.dtype), self.layout.arrange(sin).to(x.dtype)


def apply_per_kv_head(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                      layout: PairLayout = PAIR_LAYOUTS["half"]) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Rotate q (B, H, L, d) and k (B, K, L, d) by tables (B, K, L, r), one per KV head: query head
    j by KV head j // (H / K); only the first r dims (partial rotary), paired as `layout` pairs them."""
    r = cos.shape[-1]
    group = q.shape[1] // cos.shape[1]
    qc, qs = cos.repeat_interleave(group, dim=1), sin.repeat_interleave(group, dim=1)

    def turn(x: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        rot = x[..., :r]
        return torch.cat((rot * c + layout.rotate(rot) * s, x[..., r:]), dim=-1)

    return turn(q, qc, qs), turn(k, cos, sin)


def _wrap_apply(module, layout: PairLayout) -> None:
    """Make the modeling module's apply_rotary_pos_emb take per-KV-head tables too (once)."""
    original = module.apply_rotary_pos_emb
    if getattr(original, "niah_per_head", False):
        return

    def apply_rotary_pos_emb(q, k, cos, sin, *args, **kwargs):
        if cos.dim() == 4:  # (B, KV heads, L, r): a per-head variant
            return apply_per_kv_head(q, k, cos, sin, layout)
        return original(q, k, cos, sin, *args, **kwargs)

    apply_rotary_pos_emb.niah_per_head = True
    module.apply_rotary_pos_emb = apply_rotary_pos_emb


def _hook_layers(lm) -> None:
    """Once per text model: a decoder layer the rotary module lists as NoPE (`VariantRotary.nope`,
    from a `+nope` modifier) gets (cos, sin) = (1, 0), so its queries and keys are not rotated at
    all (and not scaled: CohereCompass's NoPE layers get no position embeddings)."""
    if getattr(lm, "niah_layer_hooks", False):
        return

    def hook(index: int):
        def swap(module, args, kwargs):
            if index not in lm.rotary_emb.nope or kwargs.get("position_embeddings", ()) is None:
                return None  # rotating, or a layer that rotates nothing anyway (CohereCompass's global layers)
            if "position_embeddings" not in kwargs:
                raise NiahError(f"{type(module).__name__} takes its position embeddings otherwise than by name: "
                                "niah cannot turn rotary off in its layers (+nope)")  # fmt: skip
            cos, sin = kwargs["position_embeddings"]
            return args, {**kwargs, "position_embeddings": (torch.ones_like(cos), torch.zeros_like(sin))}

        return swap

    for i, layer in enumerate(lm.layers):
        layer.register_forward_pre_hook(hook(i), with_kwargs=True)
    lm.niah_layer_hooks = True


def kv_heads(config) -> int:
    return text_config(config).num_key_value_heads


def install(model, variant: RopeVariant, pair_layout: str = "half", section_order: tuple[int, int, int] = (0, 1, 2)
            ) -> VariantRotary:  # fmt: skip
    """Replace (once) or retarget the language model's rotary embedding; returns it. A per-head
    variant also wraps the text model's apply_rotary_pos_emb, a per-layer one hooks the decoder
    layers (see the module docstring).
    `pair_layout`, `section_order`: the family's (niah.model_families.Family)."""
    lm = model.model.language_model
    if variant.per_head:
        _wrap_apply(sys.modules[type(lm).__module__], PAIR_LAYOUTS[pair_layout])
    if variant.by_layer:
        _hook_layers(lm)
    if isinstance(lm.rotary_emb, VariantRotary):
        lm.rotary_emb.set_variant(variant)
    else:
        device = next(model.parameters()).device
        own = getattr(lm.rotary_emb, "mrope_section", None)  # the section it rotates by without one in the config
        lm.rotary_emb = VariantRotary(variant, model.config, pair_layout, section_order, own).to(device)
    return lm.rotary_emb
