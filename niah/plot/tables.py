"""The Table-3 style summary: the mean score of one metric per (model, variant) × task with its 95 %
interval and sample count, as Markdown, CSV and LaTeX; the metric is named in its own column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from niah.plot.heatmaps import short_variant
from niah.plot.results import Grid, task_order
from niah.stats import CLUSTER_METHOD


def table_rows(grids: dict[tuple[str, str, str], Grid]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: model, variant, metric (its title: 'exact match', 'probe retrieval'), then
    'score (n)' per task ('mean ± sd over model seeds' when runs of several seeds are plotted
    together), and a 'TASK lured' column (the fraction of samples answered with a distractor's
    lure, ± its sd over seeds likewise) per task with distractors."""
    tasks = task_order(t for _, _, t in grids)
    lure_tasks = [t for t in tasks if any(g.has_lures for (_, _, t2), g in grids.items() if t2 == t)]
    rows: dict[tuple[str, str], dict[str, Grid]] = {}
    for (m, v, t), g in grids.items():
        rows.setdefault((m, v), {})[t] = g
    header = ["model", "variant", "metric", *tasks, *(f"{t} lured" for t in lure_tasks)]
    body = []
    for (m, v), by_task in rows.items():
        cells = [_cell(by_task[t]) if t in by_task else "" for t in tasks]
        lured = [_lure_cell(by_task[t]) if t in by_task and by_task[t].has_lures else "" for t in lure_tasks]
        body.append([m, v, next(iter(by_task.values())).metric_title, *cells, *lured])
    return header, body


def _bounds(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def _cell(g: Grid) -> str:
    """'0.712 [0.60, 0.81] (64)' (the 95 % interval, needles as clusters), '0.318 (90 cells, imported;
    no interval)' for published results, or with several model seeds 'mean ± sd over seeds
    [interval] (samples, k seeds)'."""
    n = int(g.samples.sum())
    if g.imported:
        return f"{g.overall:.3f} ({n} cells, imported; no interval)"
    if len(g.seed_accuracies) > 1:
        return f"{g.overall:.3f} ± {g.seed_spread:.3f} {_bounds(*g.interval)} ({n}, {len(g.seed_accuracies)} seeds)"
    return f"{g.overall:.3f} {_bounds(*g.interval)} ({n})"


def _lure_cell(g: Grid) -> str:
    """'0.125 [0.05, 0.27]', or with several model seeds 'mean ± sd over seeds [interval]'."""
    if len(g.seed_lure_rates) > 1:
        return f"{g.lure_rate:.3f} ± {g.lure_spread:.3f} {_bounds(*g.lure_interval)}"
    return f"{g.lure_rate:.3f} {_bounds(*g.lure_interval)}"


CSV_HEADER = ["model", "variant", "metric", "task", "score", "ci_low", "ci_high", "samples", "seeds", "lure_rate",
              "lure_ci_low", "lure_ci_high", "interval"]  # fmt: skip


def csv_rows(grids: dict[tuple[str, str, str], Grid]) -> list[list[str]]:
    """One machine-readable row per (model, variant, task): numbers, their 95 % intervals, and the
    interval's method (empty intervals for imported cells)."""

    def number(x: float) -> str:
        return "" if x != x else f"{x:.4f}"

    rows = []
    for (m, v, t), g in grids.items():
        method = "none (published cells)" if g.imported else f"95 % {CLUSTER_METHOD}"
        lure = (g.lure_rate, *g.lure_interval) if g.has_lures else (float("nan"),) * 3
        rows.append([m, v, g.metric, t, number(g.overall), *map(number, g.interval), str(int(g.samples.sum())),
                     str(max(1, len(g.seed_accuracies))), *map(number, lure), method])  # fmt: skip
    return rows


def write_tables(grids: dict[tuple[str, str, str], Grid], out: Path) -> list[Path]:
    """summary.md and summary.tex (scores with their 95 % intervals, as text) and summary.csv (one
    row per model, variant and task, numbers and interval bounds in their own columns) in `out`."""
    header, body = table_rows(grids)
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in body]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(grids))
    tex = [r"\begin{tabular}{lll" + "c" * (len(header) - 3) + "}", r"\toprule",
           " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]  # fmt: skip
    tex += [" & ".join([_tex(row[0]), _tex(short_variant(row[1])), *map(_tex, row[2:])]) + r" \\" for row in body]
    tex += [r"\bottomrule", r"\end{tabular}"]
    paths = [out / "summary.md", out / "summary.csv", out / "summary.tex"]
    for path, text in zip(paths, ["\n".join(md), buf.getvalue(), "\n".join(tex)], strict=True):
        path.write_text(text.rstrip("\n") + "\n")
    return paths


def _tex(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("δ", r"$\delta$").replace("&", r"\&")
