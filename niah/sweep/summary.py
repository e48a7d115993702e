"""Summaries derived from results records (never by re-running a model)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy per (model, variant, task): overall, per length, per (length, depth), with counts.

    Returns {"groups": [{model, variant, task, accuracy, lure_rate, samples, failed,
    by_length: {L: acc}, cells: [{length, depth, accuracy, samples}]}]}. `lure_rate` is the fraction
    of samples answered with a distractor's lure (None for a task without distractors). Failed
    samples are counted, not scored.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["model"], r["variant"], r["task"])].append(r)
    out = []
    for (model, variant, task), rs in sorted(groups.items()):
        ok = [r for r in rs if r["status"] == "ok"]
        cells: dict[tuple[int, int], list[bool]] = defaultdict(list)
        by_len: dict[int, list[bool]] = defaultdict(list)
        for r in ok:
            cells[(r["length"], r["depth"])].append(bool(r["correct"]))
            by_len[r["length"]].append(bool(r["correct"]))
        out.append({
            "model": model, "variant": variant, "task": task,
            "accuracy": _mean([bool(r["correct"]) for r in ok]),
            "lure_rate": _mean([bool(r["lured"]) for r in ok if r.get("lured") is not None]),
            "samples": len(ok), "failed": len(rs) - len(ok),
            "by_length": {str(k): _mean(v) for k, v in sorted(by_len.items())},
            "cells": [{"length": k[0], "depth": k[1], "accuracy": _mean(v), "samples": len(v)}
                      for k, v in sorted(cells.items())],
        })  # fmt: skip
    return {"groups": out}


def _mean(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def accuracy_table(summary: dict[str, Any]) -> str:
    """A plain-text table: one row per (model, variant), one column per task, and a 'TASK lured'
    column per task with distractors."""
    tasks = sorted({g["task"] for g in summary["groups"]})
    lure_tasks = sorted({g["task"] for g in summary["groups"] if g.get("lure_rate") is not None})
    rows: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for g in summary["groups"]:
        acc = "-" if g["accuracy"] is None else f"{g['accuracy']:.3f}"
        rows[(g["model"], g["variant"])][g["task"]] = f"{acc} ({g['samples']})"
        if g.get("lure_rate") is not None:
            rows[(g["model"], g["variant"])][f"{g['task']} lured"] = f"{g['lure_rate']:.3f}"
    tasks = [*tasks, *(f"{t} lured" for t in lure_tasks)]
    header = ["model", "variant", *tasks]
    body = [[m, v, *(cols.get(t, "") for t in tasks)] for (m, v), cols in rows.items()]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
                     for line in (header, *body))  # fmt: skip
