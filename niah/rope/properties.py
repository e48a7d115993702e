"""Properties of a variant as VideoRoPE's Table 1 lists them, derived from the registry itself.

Nothing here is typed by hand per variant: each column is computed from the variant's placement
rule, allocation and temporal index, so a newly registered variant gets a correct row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from niah.rope.frequencies import AXIS_T, UNROTATED
from niah.rope.layout import Layout
from niah.rope.options import fmt
from niah.rope.positions import SPATIALLY_SYMMETRIC
from niah.rope.variants import RopeVariant

_ONE_D_PLACEMENTS = {"flat", "tad"}


@dataclass(frozen=True)
class VariantProperties:
    """One row of the variant table (head_dim 128 for the allocation summary)."""

    name: str
    structure_3d: bool
    temporal_frequencies: str  # where t sits: "1-D", "high 0–15", "low 48–63", "interleaved", "zeroed 48–63"
    spatial_symmetry: bool
    temporal_index_scaling: str  # "none" or the τ(f) formula
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


def _span(pairs: np.ndarray) -> str:
    return f"{pairs.min()}–{pairs.max()}"


def temporal_frequencies(variant: RopeVariant, head_dim: int = 128) -> str:
    """Summary of the pairs the temporal axis drives: 1-D, high, low, interleaved or zeroed."""
    if variant.allocation == "single":
        return "1-D"
    axis = variant.axis_of_pair(head_dim)
    t_pairs = np.flatnonzero(axis == AXIS_T)
    zeroed = np.flatnonzero(axis == UNROTATED)
    if len(zeroed):
        return f"zeroed {_span(zeroed)}"
    n = len(axis)
    contiguous = len(t_pairs) and t_pairs.max() - t_pairs.min() + 1 == len(t_pairs)
    if contiguous and t_pairs.min() == 0:
        return f"high {_span(t_pairs)}"
    if contiguous and t_pairs.max() == n - 1:
        return f"low {_span(t_pairs)}"
    return f"interleaved ({len(t_pairs)} pairs)"


def properties(variant: RopeVariant, description: str = "") -> VariantProperties:
    """The Table-1 row of a resolved variant."""
    return VariantProperties(
        name=variant.spec,
        structure_3d=variant.placement not in _ONE_D_PLACEMENTS,
        temporal_frequencies=temporal_frequencies(variant),
        spatial_symmetry=variant.placement in SPATIALLY_SYMMETRIC,
        temporal_index_scaling=variant.temporal_scaling,
        description=description,
    )


def inert_options(variant: RopeVariant, layout: Layout, reference: Layout) -> list[str]:
    """The numeric options of `variant` that change its positions on `reference` but not on
    `layout`: options that cannot act there (e.g. δ when every frame is its own one-frame run, as
    Qwen3-VL's timestamped prompt makes them). Found by changing each option and comparing."""
    from niah.rope.variants import VARIANTS

    given = {k: fmt(v) for k, v in variant.options.items()}
    inert = []
    for key, value in variant.options.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        other = VARIANTS[variant.name].resolve({**given, key: fmt(value * 2 + 1)})
        acts_there = not np.array_equal(variant.position_array(reference), other.position_array(reference))
        acts_here = not np.array_equal(variant.position_array(layout), other.position_array(layout))
        if acts_there and not acts_here:
            inert.append(key)
    return inert
