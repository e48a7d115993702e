"""The RoPE variant library: layouts → position ids (3, L) → rotary tables → rotated q, k.

>>> from niah.rope import resolve_variant
>>> v = resolve_variant("videorope:delta=2")
>>> ids = v.position_ids("text:3,video:2x2x2,text:2")   # (3, 13)
>>> cos, sin = v.rotary_tables(ids, head_dim=128, base=1e6)   # (13, 128) each
"""

from niah.rope.frequencies import apply_rotary, rotary_tables
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
