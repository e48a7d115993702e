"""Summaries derived from results records (never by re-running a model)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from niah.stats import clustered_bounds, mean_bounds
from niah.sweep import outcomes as oc
from niah.sweep.attention import VERDICTS, needle_mass, wrong_split


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Scores per (model, variant, task): overall, per length, per (length, depth), with counts, for
    the primary metric, and overall for every metric recorded.

    Returns {"groups": [{model, variant, task, metric, accuracy, lure_rate, samples, failed,
    by_length: {L: acc}, cells: [{length, depth, accuracy, samples}],
    metrics: {name: {accuracy, accuracy_ci, lure_rate, lure_ci, degenerate}}}]}. `metric` is the
    task's primary metric (what `accuracy`, `by_length` and `cells` measure); `lure_rate` the
    fraction of samples answered with a look-alike's wrong option (None for a task without
    look-alikes); `degenerate` the fraction of `generate` outputs that named no option (None for
    other metrics); `*_ci` the 95 % interval [low, high], exact at the needle-clustered effective
    sample size (niah.stats). Failed samples are counted, not scored. Where records carry their
    attention line (`niah run --attention`), a group has `attention` too (`attention_split`); where
    a sparse indexer's choice was recorded (Qwen4-Exp, HY-V4-VL), `indexer` (`indexer_split`).
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["model"], r["variant"], r["task"])].append(r)
    out = []
    for (model, variant, task), rs in sorted(groups.items()):
        ok = [r for r in rs if r["status"] == "ok"]
        metric = Counter(oc.primary(r) for r in ok).most_common(1)[0][0] if ok else None
        cells: dict[tuple[int, int], list[float]] = defaultdict(list)
        by_len: dict[int, list[float]] = defaultdict(list)
        for r in ok:
            if (v := oc.value(r, metric)) is not None:
                cells[(r["length"], r["depth"])].append(v)
                by_len[r["length"]].append(v)
        names = list(dict.fromkeys(name for r in ok for name in oc.outcomes(r)))
        per_metric = {name: metric_scores(ok, name) for name in names}
        primary = per_metric.get(metric, {"accuracy": None, "accuracy_ci": None, "lure_rate": None, "lure_ci": None})
        out.append({
            "model": model, "variant": variant, "task": task, "metric": metric,
            "accuracy": primary["accuracy"], "accuracy_ci": primary["accuracy_ci"],
            "lure_rate": primary["lure_rate"], "lure_ci": primary["lure_ci"],
            "samples": len(ok), "failed": len(rs) - len(ok),
            "by_length": {str(k): _mean(v) for k, v in sorted(by_len.items())},
            "cells": [{"length": k[0], "depth": k[1], "accuracy": _mean(v), "samples": len(v)}
                      for k, v in sorted(cells.items())],
            "metrics": per_metric,
            **({"attention": attention_split(seen, metric)} if (seen := [r for r in ok if "attention" in r]) else {}),
            **({"indexer": indexer_split(indexed, metric)}
               if (indexed := [r for r in ok if "indexer_needle" in (r.get("scores") or {})]) else {}),
        })  # fmt: skip
    return {"groups": out}


def indexer_split(records: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """What a sparse indexer let the answer see, over records whose scores carry `indexer_needle`
    (niah.backends.hf.indexer: per indexed layer, the share of the needle's tokens selected for the
    answer position): the mean share (over layers, then samples) with its 95 % interval (as
    attention's needle mass: niah.stats.mean_bounds), the samples whose needle no layer selected at
    all (`unselected`: the answer could not attend to it), and of the answers wrong under `metric`,
    how many were such indexer misses (`wrong_unselected`) — the rest were wrong with the needle in
    view."""
    shares = [list(r["scores"]["indexer_needle"].values()) for r in records]
    share = [sum(s) / len(s) for s in shares]
    low, high = mean_bounds(share, [str(r.get("needle")) for r in records], [str(r.get("model_seed")) for r in records])
    unselected = [not any(s) for s in shares]
    wrong = [oc.value(r, metric) == 0.0 for r in records]
    return {"samples": len(records), "needle_share": round(sum(share) / len(share), 4),
            "needle_share_ci": [round(low, 4), round(high, 4)], "unselected": sum(unselected), "wrong": sum(wrong),
            "wrong_unselected": sum(u and w for u, w in zip(unselected, wrong, strict=True))}  # fmt: skip


def attention_split(records: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Where attention at the answer went, over records carrying their attention line
    (niah.sweep.attention): the needle's mass with its 95 % interval (`needle_mass`), and the wrong
    answers under `metric` counted by `verdict` (`wrong_split`)."""
    mass, low, high = needle_mass(records)
    wrong, split = wrong_split(records, metric)
    return {"samples": len(records), "needle_mass": mass, "needle_mass_ci": [round(low, 4), round(high, 4)],
            "wrong": wrong, **split}


def metric_scores(records: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """{accuracy, accuracy_ci, lure_rate, lure_ci, degenerate} of one metric over the records that
    have it (intervals clustered by needle)."""
    scored = [(v, r) for r in records if (v := oc.value(r, metric)) is not None]
    lures = [(float(x), r) for r in records if (x := oc.lured(r, metric)) is not None]
    degenerate = [x for r in records if (x := oc.degenerate(r, metric)) is not None]
    return {"accuracy": _mean([v for v, _ in scored]), "accuracy_ci": _interval(scored),
            "lure_rate": _mean([x for x, _ in lures]), "lure_ci": _interval(lures), "degenerate": _mean(degenerate)}


def _interval(pairs: list[tuple[float, dict[str, Any]]]) -> list[float] | None:
    if not pairs:
        return None
    low, high = clustered_bounds([v for v, _ in pairs], [str(r.get("needle")) for _, r in pairs],
                                 [str(r.get("model_seed")) for _, r in pairs])  # fmt: skip
    return [round(low, 4), round(high, 4)]


def _mean(values: list) -> float | None:
    return sum(values) / len(values) if values else None


def _ci(bounds: list[float] | None) -> str:
    return "" if not bounds else f" [{bounds[0]:.2f}, {bounds[1]:.2f}]"


def accuracy_table(summary: dict[str, Any]) -> str:
    """A plain-text table: one row per (model, variant, metric), one column per task ('score
    [95 % interval] (samples)'), a 'TASK lured' column per task with look-alikes, where `generate` ran a
    'TASK degenerate' column (the fraction of outputs that named no option) and, where attention at
    the answer was recorded, a 'TASK attention' column on the primary metric's row (needle mass
    [95 % interval]; wrong answers missed/found/lured)."""
    tasks = sorted({g["task"] for g in summary["groups"]})
    lure_tasks = sorted({g["task"] for g in summary["groups"] if g.get("lure_rate") is not None})
    rows: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    degenerate: set[str] = set()
    attended: set[str] = set()
    for g in summary["groups"]:
        for name, m in (g.get("metrics") or {g.get("metric") or "-": g}).items():
            row = rows[(g["model"], g["variant"], name)]
            score = "-" if m["accuracy"] is None else format(m["accuracy"], ".3f")
            row[g["task"]] = f"{score}{_ci(m.get('accuracy_ci'))} ({g['samples']})"
            if m.get("lure_rate") is not None:
                row[f"{g['task']} lured"] = f"{m['lure_rate']:.3f}{_ci(m.get('lure_ci'))}"
            if m.get("degenerate") is not None:
                row[f"{g['task']} degenerate"] = f"{m['degenerate']:.3f}"
                degenerate.add(g["task"])
            if (a := g.get("attention")) and name == g.get("metric"):
                row[f"{g['task']} attention"] = (f"needle {a['needle_mass']:.3f}{_ci(a['needle_mass_ci'])}; wrong "
                                                 f"{a['wrong']}: " + "/".join(str(a[v]) for v in VERDICTS)
                                                 + " " + "/".join(VERDICTS))  # fmt: skip
                attended.add(g["task"])
    columns = [*tasks, *(f"{t} lured" for t in lure_tasks), *(f"{t} degenerate" for t in sorted(degenerate)),
               *(f"{t} attention" for t in sorted(attended))]
    header = ["model", "variant", "metric", *columns]
    body = [[m, v, name, *(cols.get(c, "") for c in columns)] for (m, v, name), cols in rows.items()]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
                     for line in (header, *body))  # fmt: skip
