"""Properties of a variant as VideoRoPE's Table 1 lists them, derived from the registry itself.

Nothing here is typed by hand per variant: each column is computed from the variant's placement
rule, allocation and temporal index, so a newly registered variant gets a correct row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from niah.errors import NiahError
from niah.rope.frequencies import AXIS_T, UNROTATED
from niah.rope.layout import Layout
from niah.rope.options import fmt
from niah.rope.positions import ONE_D_PLACEMENTS, SPATIALLY_SYMMETRIC
from niah.rope.variants import RopeVariant


@dataclass(frozen=True)
class VariantProperties:
    """One row of the variant table (head_dim 128 for the allocation summary)."""

    name: str
    structure_3d: bool
    temporal_frequencies: str  # where t sits: "1-D", "high 0–15", "low 48–63", "interleaved", "zeroed 48–63", ...
    spatial_symmetry: bool
    temporal_index_scaling: str  # "none" or the τ(f) formula
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


def _span(pairs: np.ndarray) -> str:
    return f"{pairs.min()}–{pairs.max()}"


def temporal_frequencies(variant: RopeVariant, head_dim: int = 128) -> str:
    """Summary of the pairs the temporal axis drives: 1-D, high, low, interleaved or zeroed; per KV
    head for a per-head allocation; 'no t axis' when the coordinates are not (t, h, w) (VRoPE)."""
    if variant.allocation == "single":
        return "1-D"
    if "t" not in variant.axes:
        return f"no t axis ({', '.join(variant.axes)} cycled)"
    axis = variant.axis_of_pair(head_dim)
    if axis.ndim == 2:
        heads = np.flatnonzero((axis == AXIS_T).all(axis=1))
        return f"all pairs of KV heads {_span(heads)} of {len(axis)}" if len(heads) else "none"
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
        structure_3d=variant.placement not in ONE_D_PLACEMENTS,
        temporal_frequencies=temporal_frequencies(variant),
        spatial_symmetry=SPATIALLY_SYMMETRIC.get(variant.placement, lambda o: False)(variant.placement_options),
        temporal_index_scaling=variant.temporal_scaling,
        description=description,
    )


def inert_options(variant: RopeVariant, layout: Layout, reference: Layout) -> list[str]:
    """The numeric options of `variant` (list options element by element, 'position_scale[0]')
    that change its positions on `reference` but not on `layout`: options that cannot act there
    (e.g. δ when every frame is its own one-frame run, as Qwen3-VL's timestamped prompt makes them).
    Found by changing each option and comparing. An option at its registry entry's neutral value
    (a stride of 1) is not listed: it asks for nothing that is lost."""
    from niah.rope.variants import VARIANTS

    spec = VARIANTS[variant.name]
    given = {k: fmt(v) for k, v in variant.options.items()}

    def acts(key: str, changed: object, on: Layout) -> bool:
        other = spec.resolve({**given, key: fmt(changed)})
        return not np.array_equal(variant.position_array(on), other.position_array(on))

    inert = []
    for key, value in variant.options.items():
        values = value if isinstance(value, tuple) else (value,)
        neutral = spec.neutral.get(key)
        neutrals = neutral if isinstance(neutral, tuple) else (neutral,) * len(values)
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int | float) or v == neutrals[i]:
                continue
            changed = v * 2 + 1 if len(values) == 1 else values[:i] + (v * 2 + 1,) + values[i + 1 :]
            try:
                if acts(key, changed, reference) and not acts(key, changed, layout):
                    inert.append(key if len(values) == 1 else f"{key}[{i}]")
            except NiahError:  # the changed value is outside the option's range: nothing to compare
                continue
    return inert


def allocation_summary(variant: RopeVariant, head_dim: int = 128, partial_rotary: float = 1.0,
                       section: list[int] | None = None) -> dict:  # fmt: skip
    """The allocation as `niah rope allocation --json` prints it: {axis name: [pairs], "none":
    [unrotated pairs]} (pair 0 = highest frequency), with "axes" when the coordinates are not
    (t, h, w), {"heads": [one such object per KV head]} for a per-head allocation, and
    "rotary_dim" under partial rotary (pairs then count over the first rotary_dim dims of a head).
    Raises NiahError for an impossible head_dim, factor or section."""
    from niah.rope.frequencies import USES_SECTION, rotary_dim

    if section is not None and variant.allocation not in USES_SECTION:
        raise NiahError(f"{variant.label} does not divide its pairs by a section (its allocation: "
                        f"{variant.allocation}): drop --section")  # fmt: skip
    try:
        dim = rotary_dim(head_dim, partial_rotary)
        axis = variant.axis_of_pair(dim, section)
    except ValueError as e:
        raise NiahError(f"{variant.spec}: {e}") from None

    def pairs_by_axis(row: np.ndarray) -> dict:
        out = {name: np.flatnonzero(row == a).tolist() for a, name in enumerate(variant.axes)}
        if (row == UNROTATED).any():
            out["none"] = np.flatnonzero(row == UNROTATED).tolist()
        return out

    summary: dict = {"heads": [pairs_by_axis(row) for row in axis]} if axis.ndim == 2 else pairs_by_axis(axis)
    if variant.axes != ("t", "h", "w"):
        summary["axes"] = list(variant.axes)
    if dim != head_dim:
        summary["rotary_dim"] = dim
    return summary
