"""`plot_runs`: every figure and table of one or more run dirs into a figure dir."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from niah.errors import NiahError
from niah.plot.attention import plot_attention
from niah.plot.heatmaps import difference_figure, grid_figure, heatmap_figure, length_figure, short_variant
from niah.plot.results import Grid, choose_metric, grid, groups, load_runs, model_grids, task_order
from niah.plot.style import FORMATS, save
from niah.plot.tables import write_tables
from niah.stats import LEVEL
from niah.sweep.compare import Side, compare


def _slug(*parts: str) -> str:
    """A file-name-safe join: 'videorope:delta=2,layout=diagonal' → 'videorope-delta2-layoutdiagonal'."""
    return "_".join(re.sub(r"[^A-Za-z0-9._+-]+", "-", p.replace("=", "")).strip("-") for p in parts)


def plot_runs(run_dirs: Sequence[str | Path], out: str | Path, formats: Sequence[str] = ("png",),
              diff: tuple[str, str] | None = None, metric: str | None = None,
              mark_wide: float | None = None) -> list[Path]:  # fmt: skip
    """Heatmaps per (model, variant, task), a variants × tasks grid per model, difference maps
    (each variant minus the first, or `diff`; cells the paired test does not resolve drawn grey),
    score vs length, summary tables, and where runs recorded attention at the answer its figures and
    table (niah.plot.attention), all of one metric (`metric`, or `choose_metric`'s default),
    named in every title; `mark_wide`: a dot on every heatmap cell whose 95 % interval is wider."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise NiahError(f"unknown figure format '{bad[0]}': choose from {', '.join(FORMATS)}")
    records, order = load_runs(run_dirs)
    _diff_pairs(order, diff)  # a bad --diff is refused before any figure is written
    metric = choose_metric(records, metric)  # and two metrics under one label
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NiahError(f"cannot write to '{out}': {err.strerror}") from None
    grids = model_grids(records, metric)
    by_group = groups(records)
    written: list[Path] = []

    def emit(fig, name: str) -> None:
        written.extend(save(fig, *(out / f"{name}.{fmt}" for fmt in formats)))

    for (model, variant, task), g in grids.items():
        emit(heatmap_figure(g, f"{short_variant(variant)} · {task}", mark_wide), _slug("heatmap", model, variant, task))
    for model in sorted({m for m, _, _ in grids}):
        mine = {(v, t): g for (m, v, t), g in grids.items() if m == model}
        variants = [v for v in order if any(key[0] == v for key in mine)]
        tasks = task_order(t for _, t in mine)
        emit(grid_figure(mine, variants, tasks, model, mark_wide), _slug("grid", model))
        curves = {(v, t): (g.lengths, [_mean_col(g, j) for j in range(len(g.lengths))]) for (v, t), g in mine.items()}
        bands = {key: _column_intervals(by_group[(model, *key)], g, metric) for key, g in mine.items()}
        emit(length_figure(curves, model, next(iter(mine.values())).metric_title, bands),
             _slug("accuracy_vs_length", model))  # fmt: skip
        pairs = _diff_pairs(variants, diff)
        for a, b in pairs:
            for t in tasks:
                if (a, t) in mine and (b, t) in mine:
                    title = f"{short_variant(a)} − {short_variant(b)} · {t}"
                    grey = unresolved_cells(records, model, a, b, t, metric, mine[(a, t)])
                    emit(difference_figure(mine[(a, t)], mine[(b, t)], title, grey), _slug("diff", model, a, b, t))
    written += write_tables(grids, out)
    written += plot_attention(records, order, metric, out, emit, _slug)
    return written


def unresolved_cells(records: list[dict], model: str, a: str, b: str, task: str, metric: str, g: Grid) -> np.ndarray:
    """(depths, lengths) True where McNemar's test of variant a against b on the cell's paired
    samples, Holm-corrected across the map, does not resolve a difference at 95 % (every cell of
    imported runs, which have no samples)."""
    grey = np.ones(g.accuracy.shape, dtype=bool)
    mine = [r for r in records if r["model"] == model and r["task"] == task]
    if any(r.get("imported") for r in mine):
        return grey
    try:
        (comparison,) = compare(Side(a, mine, a), Side(b, mine, b), metric)
    except NiahError:  # no paired samples: nothing resolved
        return grey
    for length, depth, _, _, adjusted in comparison.cells:
        if adjusted < 1 - LEVEL and length in g.lengths and depth in g.depths:
            grey[g.depths.index(depth), g.lengths.index(length)] = False
    return grey


def _column_intervals(records: list[dict], g: Grid, metric: str) -> list[tuple[float, float]]:
    """Each length's 95 % interval of the mean over its depths (clustered by needle and, where
    several meet, by model seed: niah.stats.clustered_bounds); NaN for imported cells."""
    return [grid([r for r in records if r["length"] == length], [length], g.depths, metric).interval
            for length in g.lengths]  # fmt: skip


def _mean_col(g: Grid, j: int) -> float:
    n = g.samples[:, j]
    return float((g.accuracy[:, j][n > 0] * n[n > 0]).sum() / n.sum()) if n.sum() else float("nan")


def _diff_pairs(variants: list[str], diff: tuple[str, str] | None) -> list[tuple[str, str]]:
    if diff is None:
        return [(v, variants[0]) for v in variants[1:]]
    resolved = []
    for name in diff:
        match = [v for v in variants if v == name or v.split(":")[0] == name]
        if not match:
            raise NiahError(f"--diff variant '{name}' is not in the runs ({', '.join(variants)})")
        resolved.append(match[0])
    return [(resolved[0], resolved[1])]
