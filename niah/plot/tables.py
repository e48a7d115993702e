"""The Table-3 style summary: the mean score of one metric per (model, variant) × task, with sample
counts, as Markdown, CSV and LaTeX; the metric is named in its own column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from niah.plot.heatmaps import short_variant
from niah.plot.results import Grid


def table_rows(grids: dict[tuple[str, str, str], Grid]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: model, variant, metric (its title: 'exact match', 'probe retrieval'), then
    'score (n)' per task ('mean ± sd over model seeds' when runs of several seeds are plotted
    together), and a 'TASK lured' column (the fraction of samples answered with a distractor's
    lure, ± its sd over seeds likewise) per task with distractors."""
    tasks = sorted({t for _, _, t in grids})
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


def _cell(g: Grid) -> str:
    """'0.712 (64)', '0.318 (90 cells, imported)' for published results, or with several model
    seeds 'mean ± sd over seeds (samples, k seeds)'."""
    n = int(g.samples.sum())
    if g.imported:
        return f"{g.overall:.3f} ({n} cells, imported)"
    if len(g.seed_accuracies) > 1:
        return f"{g.overall:.3f} ± {g.seed_spread:.3f} ({n}, {len(g.seed_accuracies)} seeds)"
    return f"{g.overall:.3f} ({n})"


def _lure_cell(g: Grid) -> str:
    """'0.125', or with several model seeds 'mean ± sd over seeds'."""
    if len(g.seed_lure_rates) > 1:
        return f"{g.lure_rate:.3f} ± {g.lure_spread:.3f}"
    return f"{g.lure_rate:.3f}"


def write_tables(grids: dict[tuple[str, str, str], Grid], out: Path) -> list[Path]:
    """summary.md, summary.csv and summary.tex in `out`."""
    header, body = table_rows(grids)
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in body]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(body)
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
