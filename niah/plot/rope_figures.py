"""RoPE figures drawn from the registry (after VideoRoPE, arXiv 2502.05173, Figures 4 and 6).

Per variant, one row of three panels:
  1. allocation strip: the axis (t red, h blue, w green, unrotated grey; VRoPE's p0–p3 red, blue,
     green, purple) of each frequency pair, one strip per KV head where the allocation differs
     per head (mhrope);
  2. temporal rotation: cos(Δt · θ_i) of every pair driven by t, for temporal distances Δt
     (in frames) — high-frequency temporal pairs oscillate fast, which is what lets periodic
     distractors alias with the needle; low-frequency ones vary slowly (a variant without a t
     axis, VRoPE, shows every pair);
  3. the 3-D position ids (t, h, w) of a small layout, vision tokens coloured by frame; for other
     coordinates (VRoPE's four) every coordinate row against the token index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from niah.plot.style import AXIS_COLOURS, check_format, plt, save
from niah.rope import Layout, RopeVariant
from niah.rope.frequencies import AXIS_T
from niah.rope.tables import inverse_frequencies


def _allocation_panel(ax, variant: RopeVariant, head_dim: int) -> None:
    axis = np.atleast_2d(variant.axis_of_pair(head_dim))  # (heads or 1, d/2)
    rows, pairs = axis.shape
    for row in range(rows):
        colours = [AXIS_COLOURS[int(a)] for a in axis[row]]
        ax.bar(np.arange(pairs), np.ones(pairs), bottom=rows - 1 - row, width=1.0, color=colours, edgecolor="white",
               lw=0.3)  # fmt: skip
    ax.set_xlim(-0.5, pairs - 0.5)
    ax.set_yticks(np.arange(rows) + 0.5 if rows > 1 else [])
    ax.set_yticklabels([f"KV {rows - 1 - r}" for r in range(rows)] if rows > 1 else [], fontsize=6)
    ax.set_xlabel("frequency pair (0 = highest)")
    names = ", ".join(f"{name} {colour}" for name, colour in zip(variant.axes, ("red", "blue", "green", "purple"),
                                                                    strict=False))  # fmt: skip
    ax.set_title(f"allocation: {names}, none grey", fontsize=6)


def _temporal_panel(ax, variant: RopeVariant, head_dim: int, base: float, span: int = 3000) -> None:
    axis = np.atleast_2d(variant.axis_of_pair(head_dim))
    inv = inverse_frequencies(head_dim, base).double().numpy()
    dt = np.arange(span)
    waves = np.cos(np.outer(inv, dt))  # (d/2, span)
    if "t" in variant.axes:
        waves[~(axis == AXIS_T).any(axis=0)] = np.nan  # pairs that t drives (on any KV head)
        title, label = "cos(Δt·θ) on temporal pairs", "temporal position distance Δt"
    else:
        title, label = "no t axis: cos(Δp·θ), every pair", "position distance Δp"
    ax.imshow(waves, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel(label)
    ax.set_ylabel("pair")
    ax.set_title(title, fontsize=6)


def _frame_of_token(layout: Layout) -> np.ndarray:
    """Frame index of every token of `layout` within its vision run, −1 for text; shape (L,)."""
    frame = np.full(layout.num_tokens, -1.0)
    start = 0
    for run in layout.runs:
        n = run.num_tokens
        if hasattr(run, "frames"):
            frame[start : start + n] = np.repeat(np.arange(run.frames), run.height * run.width)
        start += n
    return frame


def _coordinates_panel(ax, variant: RopeVariant, layout: Layout) -> None:
    """Every coordinate row against the token index (variants whose coordinates are not t, h, w)."""
    ids = variant.position_array(layout).astype(np.float64)
    vision = _frame_of_token(layout) >= 0
    tokens = np.arange(ids.shape[1])
    for row, name in enumerate(variant.axes):
        ax.plot(tokens, ids[row], marker=".", ms=3, lw=0.8, color=AXIS_COLOURS[row], label=name)
    ax.fill_between(tokens, ids.min(), ids.max(), where=vision, color="#eeeeee", step="mid", label="vision")
    ax.set_xlabel("token")
    ax.set_ylabel("position")
    ax.set_title(f"positions of {layout}", fontsize=7)
    ax.legend(loc="upper left", fontsize=6)


def _positions_panel(ax, variant: RopeVariant, layout: Layout) -> None:
    ids = variant.position_array(layout).astype(np.float64)
    frame = _frame_of_token(layout)
    text = frame < 0
    ax.scatter(ids[2, text], ids[1, text], ids[0, text], c="black", marker="x", s=12, label="text")
    sc = ax.scatter(ids[2, ~text], ids[1, ~text], ids[0, ~text], c=frame[~text], cmap="viridis", s=14)
    ax.set_xlabel("w", labelpad=-8)
    ax.set_ylabel("h", labelpad=-8)
    ax.set_zlabel("t", labelpad=-8)
    ax.tick_params(labelsize=6, pad=-2)
    ax.set_title(f"positions of {layout}", fontsize=7)
    ax.legend(loc="upper left", fontsize=6)
    return sc


def rope_figure(
    variants: list[RopeVariant], head_dim: int = 128, base: float = 1e6, layout: str = "text:2,video:4x3x3,text:2"
) -> plt.Figure:
    """A figure with one row per variant (see the module docstring)."""
    lay = Layout.parse(layout)
    fig = plt.figure(figsize=(11, 2.8 * len(variants)))
    for row, variant in enumerate(variants):
        a = fig.add_subplot(len(variants), 3, 3 * row + 1)
        _allocation_panel(a, variant, head_dim)
        a.set_ylabel(variant.label, fontsize=8, rotation=0, ha="right", va="center")
        _temporal_panel(fig.add_subplot(len(variants), 3, 3 * row + 2), variant, head_dim, base)
        if variant.axes == ("t", "h", "w"):
            _positions_panel(fig.add_subplot(len(variants), 3, 3 * row + 3, projection="3d"), variant, lay)
        else:
            _coordinates_panel(fig.add_subplot(len(variants), 3, 3 * row + 3), variant, lay)
    fig.tight_layout()
    return fig


def save_rope_figure(
    variants: list[RopeVariant],
    out: str | Path,
    head_dim: int = 128,
    base: float = 1e6,
    layout: str = "text:2,video:4x3x3,text:2",
) -> Path:
    """Build `rope_figure` and write it to `out` (.png, .pdf or .svg)."""
    check_format(out)
    return save(rope_figure(variants, head_dim, base, layout), out)[0]
