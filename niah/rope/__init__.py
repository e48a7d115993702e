"""The RoPE variant library: layouts → position ids (N, L) → rotary tables → rotated q, k.

N is the number of coordinates a variant gives each token: 3 (t, h, w) for most, 4 for VRoPE;
tables are (L, d), or (kv_heads, L, d) where a variant allocates per KV head (mhrope).

>>> from niah.rope import resolve_variant
>>> v = resolve_variant("videorope:delta=2")
>>> ids = v.position_ids("text:3,video:2x2x2,text:2")   # (3, 13) torch; v.position_array: numpy
>>> cos, sin = v.rotary_tables(ids, head_dim=128, base=1e6)   # (13, 128) each

Layouts, positions, allocations and the registry are numpy only; torch is imported by the rotary
tables (niah.rope.tables) when first used, so `niah rope list` starts without it.
"""

from niah.rope.layout import Layout, TextRun, VisionRun, split_frames
from niah.rope.properties import VariantProperties, inert_options, properties
from niah.rope.variants import VARIANTS, RopeVariant, VariantSpec, register_variant, resolve_variant

__all__ = [
    "inert_options",
    "VARIANTS",
    "Layout",
    "RopeVariant",
    "TextRun",
    "VariantProperties",
    "VariantSpec",
    "VisionRun",
    "apply_rotary",
    "properties",
    "register_variant",
    "resolve_variant",
    "rotary_tables",
    "split_frames",
]


def __getattr__(name: str):
    """apply_rotary and rotary_tables load torch: imported on first use."""
    if name in ("apply_rotary", "rotary_tables"):
        from niah.rope import tables

        return getattr(tables, name)
    raise AttributeError(f"module 'niah.rope' has no attribute '{name}'")
