"""Figures and tables of attention at the answer (`niah run --attention`, niah.sweep.attention).

From the records that carry an `attention` line (load_runs attaches it):

- `attention_grid_<model>`: per variant × task, the mean mass on the needle's tokens (averaged
  over layers) per (depth, length) cell — the accuracy heatmap's axes, one colour scale per figure;
- `attention_lookalike_<model>`: needle vs nearest look-alike mass against length (tasks with
  look-alikes), each mean with its 95 % interval;
- `attention_layers_<model>`: needle mass per layer, a line per variant, a panel per length;
- `retrieval_heads_<model>_<variant>`: needle mass per (layer, head) (runs with --attention-heads);
- `attention.md` / `attention.csv`: per model, variant, task and length, the mean needle, nearest
  look-alike and text mass with 95 % intervals, and the wrong answers split by where attention went
  (niah.sweep.attention.verdict: missed, found, lured), each fraction of the wrong answers with its
  exact interval. Mass intervals: Student's t over needles' means (niah.stats.mean_bounds).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from niah.plot.heatmaps import COLUMN_INCHES, FONT, _colorbar, short_variant
from niah.plot.heatmaps import grid_figure as heatmap_grid
from niah.plot.results import Grid, axis_of, task_order
from niah.plot.style import plt
from niah.stats import LEVEL, exact_interval, mean_bounds
from niah.sweep.attention import VERDICTS, layer_mean, needle_mass, wrong_split

ATTENTION_CMAP = "viridis"


def _needles(rs: Sequence[dict[str, Any]]) -> list[str]:
    return [str(r.get("needle")) for r in rs]


def _bounds(values: Sequence[float], rs: Sequence[dict[str, Any]]) -> tuple[float, float]:
    return mean_bounds(list(values), _needles(rs), [str(r.get("model_seed")) for r in rs])


def mass_grid(rs: Sequence[dict[str, Any]], lengths: list[int], depths: list[int], group: str = "needle") -> Grid:
    """A Grid whose cells hold the mean layer-averaged mass on `group` (fractions of attention, not
    scores), with the overall mean's clustered 95 % interval."""
    values = [layer_mean(r["attention"], group) for r in rs]
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    for r, v in zip(rs, values, strict=True):
        cells[(r["depth"], r["length"])].append(v)
    mean = np.full((len(depths), len(lengths)), np.nan)
    n = np.zeros_like(mean, dtype=int)
    for (d, length), v in cells.items():
        mean[depths.index(d), lengths.index(length)], n[depths.index(d), lengths.index(length)] = np.mean(v), len(v)
    return Grid(lengths, depths, mean, n, interval=_bounds(values, rs), axis=axis_of({r["task"] for r in rs}))


def _by(records: Sequence[dict[str, Any]], *fields: str) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        out[tuple(r[f] for f in fields)].append(r)
    return dict(sorted(out.items(), key=lambda kv: tuple(map(str, kv[0]))))


def grid_figure(records: Sequence[dict[str, Any]], variants: list[str], model: str) -> plt.Figure:
    """Needle mass heatmaps, variants as rows × tasks as columns, one colour scale (0 to the largest
    cell), each panel titled with its mean and 95 % interval."""
    lengths, depths = sorted({r["length"] for r in records}), sorted({r["depth"] for r in records})
    grids = {k: mass_grid(rs, lengths, depths) for k, rs in _by(records, "variant", "task").items()}
    top = max(float(np.nanmax(g.accuracy)) for g in grids.values())
    return heatmap_grid(grids, variants, task_order(r["task"] for r in records), model,
                        label=lambda g: f"needle {g.overall:.3f} [{g.interval[0]:.2f}, {g.interval[1]:.2f}]",
                        cmap=ATTENTION_CMAP, vmax=max(top, 1e-6), bar="attention on the needle (mean over layers)",
                        title=f"{model} · attention at the answer")  # fmt: skip


def _mean_and_bounds(rs: Sequence[dict[str, Any]], value: Callable[[dict[str, Any]], float]
                     ) -> tuple[float, float, float]:  # fmt: skip
    values = [value(r) for r in rs]
    low, high = _bounds(values, rs)
    return float(np.mean(values)), low, high


def lookalike_figure(records: Sequence[dict[str, Any]], variants: list[str], model: str) -> plt.Figure:
    """Needle (solid) and nearest look-alike (dashed) mass vs length, a colour per variant, 95 % bars."""
    fig, ax = plt.subplots(figsize=(2 * COLUMN_INCHES, 2.6), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, v in enumerate(variants):
        mine = [r for r in records if r["variant"] == v]
        lengths = sorted({r["length"] for r in mine})
        for group, style, value in (("needle", "-", lambda r: layer_mean(r["attention"], "needle")),
                                    ("nearest look-alike", "--",
                                     lambda r: float(np.mean(r["attention"]["nearest_lookalike"])))):  # fmt: skip
            stats = [_mean_and_bounds([r for r in mine if r["length"] == n], value) for n in lengths]
            mean = np.array([s[0] for s in stats])
            err = np.abs(np.array([[s[1] for s in stats], [s[2] for s in stats]]) - mean)
            ax.errorbar(lengths, mean, yerr=err, fmt=style, marker="o", ms=2.5, lw=1.2, capsize=2,
                        color=colours[i % len(colours)], label=f"{short_variant(v)} · {group}")  # fmt: skip
    ax.set_xlabel("frames", fontsize=FONT)
    ax.set_ylabel("attention mass (mean over layers)", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.grid(alpha=0.3)
    ax.set_title(f"{model} · needle vs nearest look-alike (95 % intervals)", fontsize=FONT + 1)
    ax.legend(fontsize=FONT - 1, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def layers_figure(records: Sequence[dict[str, Any]], variants: list[str], model: str) -> plt.Figure:
    """Needle mass per layer (mean and 95 % band over samples), a line per variant, a panel per length."""
    lengths = sorted({r["length"] for r in records})
    fig, axes = plt.subplots(1, len(lengths), figsize=(2.2 * len(lengths) + 1.2, 2.3), squeeze=False,
                             sharey=True, constrained_layout=True)  # fmt: skip
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, length in enumerate(lengths):
        ax = axes[0, j]
        for i, v in enumerate(variants):
            mine = [r for r in records if r["variant"] == v and r["length"] == length]
            if not mine:
                continue
            layers = mine[0]["attention"]["layers"]
            per = np.array([r["attention"]["mass"]["needle"] for r in mine])  # (samples, layers)
            band = np.array([_bounds(per[:, k], mine) for k in range(per.shape[1])])
            colour = colours[i % len(colours)]
            ax.plot(layers, per.mean(0), marker="o", ms=2, lw=1.2, color=colour, label=short_variant(v))
            ax.fill_between(layers, band[:, 0], band[:, 1], color=colour, alpha=0.15, lw=0)
        ax.set_title(f"{length} frames", fontsize=FONT + 1)
        ax.set_xlabel("layer", fontsize=FONT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=FONT)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("attention on the needle", fontsize=FONT)
    axes[0, -1].legend(fontsize=FONT - 1, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"{model} · attention on the needle per layer (95 % bands)", fontsize=FONT + 1)
    return fig


def head_mass(records: Sequence[dict[str, Any]]) -> np.ndarray:
    """(layers, heads) mean needle mass over the records that carry per-head attention."""
    return np.mean([r["attention"]["head_mass"]["needle"] for r in records], axis=0)


def heads_figure(records: Sequence[dict[str, Any]], title: str, top: int = 5) -> plt.Figure:
    """Needle mass per (layer, head): the retrieval heads are the brightest; the `top` ones are ringed
    and named in the title."""
    mass = head_mass(records)
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 2.6), constrained_layout=True)
    mesh = ax.pcolormesh(mass, cmap=ATTENTION_CMAP, vmin=0.0, edgecolors="white", linewidth=0.3)
    best = np.argsort(mass, axis=None)[::-1][:top]
    for layer, head in zip(*np.unravel_index(best, mass.shape), strict=True):
        ax.add_patch(plt.Rectangle((head, layer), 1, 1, fill=False, edgecolor="red", lw=1.0))
    layers = records[0]["attention"]["layers"]
    ax.set_yticks(np.arange(len(layers)) + 0.5, [str(x) for x in layers], fontsize=FONT)
    ax.set_xticks(np.arange(mass.shape[1]) + 0.5, [str(x) for x in range(mass.shape[1])], fontsize=FONT)
    ax.set_xlabel("head", fontsize=FONT)
    ax.set_ylabel("layer", fontsize=FONT)
    named = ", ".join(f"L{layers[i]}H{h}" for i, h in zip(*np.unravel_index(best, mass.shape), strict=True))
    ax.set_title(f"{title}\nretrieval heads: {named} ({len(records)} samples)", fontsize=FONT + 1)
    _colorbar(fig, mesh, ax, "attention on the needle")
    return fig


TABLE_HEADER = ["model", "variant", "task", "length", "samples", "needle", "needle_low", "needle_high", "lookalike",
                "lookalike_low", "lookalike_high", "text", "wrong", *(f"{v}{s}" for v in VERDICTS
                                                                      for s in ("", "_low", "_high"))]  # fmt: skip


def table_rows(records: Sequence[dict[str, Any]], metric: str) -> list[list[Any]]:
    """One row per (model, variant, task, length), in TABLE_HEADER's order (NaN where a task has
    no look-alikes or no wrong answers)."""
    rows = []
    for (model, variant, task, length), rs in _by(records, "model", "variant", "task", "length").items():
        near = [r for r in rs if r["attention"].get("nearest_lookalike") is not None]
        look = (_mean_and_bounds(near, lambda r: float(np.mean(r["attention"]["nearest_lookalike"])))
                if near else (float("nan"),) * 3)  # fmt: skip
        text = float(np.mean([layer_mean(r["attention"], "text") for r in rs]))
        wrong, counts = wrong_split(rs, metric)
        split = []
        for v in VERDICTS:
            k = counts[v]
            split += [k / wrong, *exact_interval(k, wrong, 1 - LEVEL)] if wrong else [float("nan")] * 3
        rows.append([model, variant, task, length, len(rs), *needle_mass(rs), *look, text, wrong, *split])
    return rows


def _fmt(mean: float, low: float, high: float) -> str:
    return "" if mean != mean else f"{mean:.3f} [{low:.2f}, {high:.2f}]"


def write_table(records: Sequence[dict[str, Any]], metric: str, out: Path) -> list[Path]:
    """attention.md (means with their 95 % intervals as text) and attention.csv (numbers, one column each)."""
    rows = table_rows(records, metric)
    head = ["model", "variant", "task", "frames", "samples", "needle", "nearest look-alike", "text", "wrong",
            *(f"wrong: {v}" for v in VERDICTS)]  # fmt: skip
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        split = [_fmt(*r[13 + 3 * i : 16 + 3 * i]) for i in range(len(VERDICTS))]
        cells = [r[0], short_variant(r[1]), r[2], str(r[3]), str(r[4]), _fmt(*r[5:8]), _fmt(*r[8:11]),
                 f"{r[11]:.3f}", str(r[12]), *split]  # fmt: skip
        md.append("| " + " | ".join(cells) + " |")
    note = (f"\nMasses: the last prompt position's attention (mean over layers and heads) on the group's tokens, "
            f"mean over samples [95 % interval: t over the needles' means]. Wrong answers ({metric}) split by the "
            "frame attention weighed most: missed (a haystack frame), found (the needle), lured (a look-alike); each a "
            "fraction of the wrong answers [exact 95 % interval].\n")  # fmt: skip
    buf = io.StringIO()
    csv.writer(buf).writerows([TABLE_HEADER, *([f"{x:.4f}" if isinstance(x, float) else x for x in r] for r in rows)])
    paths = [out / "attention.md", out / "attention.csv"]
    paths[0].write_text("\n".join(md) + "\n" + note)
    paths[1].write_text(buf.getvalue())
    return paths


def plot_attention(records: Sequence[dict[str, Any]], order: list[str], metric: str, out: Path,
                   emit: Callable[[plt.Figure, str], None], slug: Callable[..., str]) -> list[Path]:  # fmt: skip
    """Every attention figure (through `emit(figure, name)`) and the table of the records that carry
    attention; returns the table's paths."""
    mine = [r for r in records if "attention" in r]
    if not mine:
        return []
    for model, rs in _by(mine, "model").items():
        variants = [v for v in order if any(r["variant"] == v for r in rs)]
        emit(grid_figure(rs, variants, model[0]), slug("attention_grid", model[0]))
        if any(r["attention"].get("nearest_lookalike") is not None for r in rs):
            near = [r for r in rs if r["attention"].get("nearest_lookalike") is not None]
            emit(lookalike_figure(near, variants, model[0]), slug("attention_lookalike", model[0]))
        emit(layers_figure(rs, variants, model[0]), slug("attention_layers", model[0]))
        for (variant,), heads in _by([r for r in rs if "head_mass" in r["attention"]], "variant").items():
            title = f"{model[0]} · {short_variant(variant)}"
            emit(heads_figure(heads, title), slug("retrieval_heads", model[0], variant))
    return write_table(mine, metric, out)
