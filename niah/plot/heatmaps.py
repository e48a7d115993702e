"""Retrieval heatmaps, the variants × tasks grid, difference maps and accuracy-vs-length lines.

Heatmap: x = haystack length (frames), y = needle depth (percent, 0 at the top), one cell per
(length, depth) averaged over needles, colour fixed on 0→1 from red (#F0496E) through amber
(#EBB839) to green (#9AD5B3) — the LongVA / VideoRoPE look — thin white borders, cells without
samples left blank (light grey, hatched), never drawn as 0.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from niah.plot.results import Grid
from niah.plot.style import plt

RED, AMBER, GREEN = "#F0496E", "#EBB839", "#9AD5B3"
ACCURACY_CMAP = LinearSegmentedColormap.from_list("niah_accuracy", [RED, AMBER, GREEN])
MISSING = "#EEEEEE"
COLUMN_INCHES = 3.4  # one column of a two-column paper
FONT = 7  # points, at the figure's printed size
UNRESOLVED = "#D9D9D9"  # a difference map's cell that the paired test does not resolve


def short_variant(spec: str) -> str:
    """'videorope:delta=2,layout=diagonal,alloc=low' → 'videorope δ=2' for titles; others unchanged."""
    name, _, opts = spec.partition(":")
    keep = [o.replace("delta=", "δ=") for o in opts.split(",") if o.startswith("delta=")]
    return " ".join([name, *keep])


def _ticks(values: Sequence[int], n_max: int = 8) -> tuple[list[int], list[str]]:
    step = max(1, int(np.ceil(len(values) / n_max)))
    idx = list(range(0, len(values), step))
    return idx, [str(values[i]) for i in idx]


def draw_heatmap(ax, g: Grid, title: str, cmap=ACCURACY_CMAP, vmin: float = 0.0, vmax: float = 1.0,
                 mark_wide: float | None = None, greyed: np.ndarray | None = None):  # fmt: skip
    """One heatmap on `ax`; returns the mappable (for a colour bar). `mark_wide`: a dot on every cell
    whose 95 % interval is wider than this; `greyed`: a (depths, lengths) mask of cells drawn grey
    (a difference the test does not resolve)."""
    data = np.ma.masked_invalid(g.accuracy)
    ax.set_facecolor(MISSING)
    mesh = ax.pcolormesh(data, cmap=cmap, vmin=vmin, vmax=vmax, edgecolors="white", linewidth=0.6)
    for i, j in zip(*np.nonzero(np.isnan(g.accuracy)), strict=True):
        ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, hatch="////", edgecolor="#BBBBBB", lw=0))
    if greyed is not None:
        for i, j in zip(*np.nonzero(greyed & ~np.isnan(g.accuracy)), strict=True):
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=UNRESOLVED, edgecolor="white", lw=0.6))
    if mark_wide is not None and g.low is not None:
        for i, j in zip(*np.nonzero(g.high - g.low > mark_wide), strict=True):
            ax.plot(j + 0.5, i + 0.5, "o", ms=2.2, color="black", alpha=0.6)
    ax.set_xlim(0, len(g.lengths))
    ax.set_ylim(len(g.depths), 0)  # depth 0 at the top
    xi, xl = _ticks(g.lengths)
    yi, yl = _ticks(g.depths)
    ax.set_xticks([i + 0.5 for i in xi], xl, rotation=45 if len(g.lengths) > 6 else 0, fontsize=FONT)
    ax.set_yticks([i + 0.5 for i in yi], yl, fontsize=FONT)
    ax.set_xlabel("frames", fontsize=FONT)
    ax.set_ylabel(g.axis, fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(length=2, pad=1)
    return mesh


def _colorbar(fig, mesh, axes, label: str):
    bar = fig.colorbar(mesh, ax=axes, fraction=0.05, pad=0.03)
    bar.ax.tick_params(labelsize=FONT)
    bar.set_label(label, fontsize=FONT)
    return bar


def scores_label(g: Grid, digits: int = 3, sep: str = ", ") -> str:
    """The metric by name and its overall score with its 95 % interval: 'exact match 0.594 [0.47,
    0.71]', with look-alikes '..., lured 0.250 [0.14, 0.39]', published 'exact match 0.318,
    imported (no interval)'."""
    if g.imported:
        return f"{g.metric_title} {g.overall:.{digits}f}, imported (no interval)"
    lured = f"{sep}lured {g.lure_rate:.{digits}f} {_bounds(*g.lure_interval)}" if g.has_lures else ""
    return f"{g.metric_title} {g.overall:.{digits}f} {_bounds(*g.interval)}{lured}"


def _bounds(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def heatmap_figure(g: Grid, title: str, mark_wide: float | None = None) -> plt.Figure:
    """A column-wide heatmap with the overall score (and lure rate) and their intervals in the title
    and a colour bar."""
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 2.6), constrained_layout=True)
    mesh = draw_heatmap(ax, g, f"{title}\n{scores_label(g)}", mark_wide=mark_wide)
    _colorbar(fig, mesh, ax, g.metric_title)
    return fig


def grid_figure(grids: dict[tuple[str, str], Grid], variants: list[str], tasks: list[str], model: str,
                mark_wide: float | None = None, *, label: Callable[[Grid], str] | None = None,
                cmap=ACCURACY_CMAP, vmax: float = 1.0, bar: str | None = None,
                title: str | None = None) -> plt.Figure:  # fmt: skip
    """Variants as rows × tasks as columns, one shared colour bar (VideoRoPE Figure 7). By default
    the grids hold scores: each panel says its metric's score and interval, coloured 0→1 red to
    green; `label` (a panel's second title line), `cmap`, `vmax`, `bar` (the colour bar's label)
    and `title` draw grids of something else (niah.plot.attention: attention mass)."""
    fig, axes = plt.subplots(len(variants), len(tasks), figsize=(2.3 * len(tasks) + 0.6, 1.9 * len(variants) + 0.3),
                             squeeze=False, constrained_layout=True)  # fmt: skip
    mesh = None
    metric = next(iter(grids.values())).metric_title
    label = label or (lambda g: scores_label(g, 2, sep="\n"))
    for i, v in enumerate(variants):
        for j, t in enumerate(tasks):
            ax = axes[i, j]
            g = grids.get((v, t))
            if g is None:
                ax.set_axis_off()
                continue
            # a line each: one line ran past the axes into the next column and the colour bar
            mesh = draw_heatmap(ax, g, f"{short_variant(v)} · {t}\n{label(g)}", cmap=cmap, vmax=vmax,
                                mark_wide=mark_wide)  # fmt: skip
            if i < len(variants) - 1:
                ax.set_xlabel("")
            left = grids.get((v, tasks[j - 1])) if j else None
            if left is not None and left.axis == g.axis:  # a column whose second axis differs keeps its label
                ax.set_ylabel("")
    if mesh is not None:
        _colorbar(fig, mesh, axes, bar or metric)
    fig.suptitle(title or f"{model} · {metric}", fontsize=FONT + 1)
    return fig


DIFF_CMAP = "RdBu"


def difference_figure(a: Grid, b: Grid, title: str, unresolved: np.ndarray | None = None) -> plt.Figure:
    """`a` minus `b` per cell, diverging colours centred at 0 (blue: a higher); cells in
    `unresolved` (the paired test, Holm-corrected, does not resolve them) are drawn grey."""
    diff = Grid(a.lengths, a.depths, a.accuracy - b.accuracy, np.minimum(a.samples, b.samples), metric=a.metric,
                axis=a.axis)
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 2.4), constrained_layout=True)
    mesh = draw_heatmap(ax, diff, title, cmap=DIFF_CMAP, vmin=-1, vmax=1, greyed=unresolved)
    _colorbar(fig, mesh, ax, f"{a.metric_title} difference")
    return fig


def length_figure(curves: dict[tuple[str, str], tuple[list[int], list[float]]], model: str, metric: str,
                  bands: dict[tuple[str, str], list[tuple[float, float]]] | None = None) -> plt.Figure:  # fmt: skip
    """`metric` (its title; mean over depths and needles) vs haystack length, a line per (variant, task),
    each with its 95 % interval per length shaded where `bands` gives one (NaN: none, imported);
    curves that are identical are drawn once, their legend entry naming each ('a = b'), so no
    line hides another (the probe's V-NIAH is 1.0 for every variant)."""
    fig, ax = plt.subplots(figsize=(2 * COLUMN_INCHES, 2.6), constrained_layout=True)  # room for the legend
    styles = {"v-niah": "-", "v-niah-d": "--"}
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "os^Dv<>P*X"
    variants = sorted({v for v, _ in curves})
    drawn: dict[tuple, list[str]] = {}  # (xs, rounded ys) → labels, in order
    first: dict[tuple, tuple[str, str]] = {}
    for (v, t), (xs, ys) in sorted(curves.items()):
        key = (tuple(xs), tuple(round(y, 9) if y == y else None for y in ys))
        drawn.setdefault(key, []).append(f"{short_variant(v)} · {t}")
        first.setdefault(key, (v, t))
    for key, labels in drawn.items():
        v, t = first[key]
        i = variants.index(v)
        ax.plot(*curves[(v, t)], styles.get(t, ":"), marker=markers[i % len(markers)], ms=2.5, lw=1.2,
                color=colours[i % len(colours)], label=textwrap.fill(" = ".join(labels), 48))  # fmt: skip
        if bands and (v, t) in bands:
            low, high = np.array(bands[(v, t)], dtype=float).T
            ax.fill_between(curves[(v, t)][0], low, high, color=colours[i % len(colours)], alpha=0.12, lw=0)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("frames", fontsize=FONT)
    ax.set_ylabel(metric, fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.grid(alpha=0.3)
    ax.set_title(model, fontsize=FONT + 1)
    ax.legend(fontsize=FONT - 1, frameon=False, ncol=1, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig
