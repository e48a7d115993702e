"""Published results as run dirs: `niah import FORMAT FILE` turns another tool's accuracy file into
a run dir that `niah plot` draws beside niah's own runs.

An imported run holds cells, not samples: one record per (length, depth) with the published
score under the metric the tool computed (`metrics: {"exact_match": {"score": 0–1}}`, already
averaged over that tool's needles; `metric` names it), `imported: true` and no needle, prediction
or scores. Its run.json has `imported` (format, file, its sha256, its metric and the provenance the
user gives) and no dataset, so it plots beside runs of any dataset that recorded the same metric.

Formats, a registry (one reader each):

- ``longva``: LongVA's and VideoRoPE's ``all_accuracies.json``, a JSON list of
  ``{"Num. Frame": int, "Frame Depth": percent, "Score": 0–1}`` (LongVA's
  ``vision_niah/eval_vision_niah.py``; VideoRoPE's ``vision_niah_d/niah_output/*/``), scored by
  teacher-forced exact match over the whole vocabulary (VideoRoPE's
  ``eval_vision_niah_interrupt.py`` 305–325: ``(pred == answer_ids).all()``): metric `exact_match`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from niah.errors import NiahError, unknown
from niah.files import atomic_write
from niah.sweep.store import RESULTS, RUN, SUMMARY


@dataclass(frozen=True)
class Cell:
    """One published cell: haystack length (frames), needle depth (percent), score (0–1)."""

    length: int
    depth: int | float
    score: float


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise NiahError(f"{where}: '{what}' is {value!r}, not a number")
    return float(value)


def read_longva(path: Path) -> list[Cell]:
    """Cells of a LongVA / VideoRoPE all_accuracies.json."""
    try:
        rows = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise NiahError(f"'{path}' is not text: expected LongVA's all_accuracies.json (a JSON list)") from None
    except json.JSONDecodeError as err:
        raise NiahError(
            f"'{path}' is not valid JSON (line {err.lineno}): expected LongVA's all_accuracies.json"
        ) from None
    if not isinstance(rows, list) or not rows:
        raise NiahError(f"'{path}' is not LongVA's all_accuracies.json: expected a non-empty JSON list of "
                        '{"Num. Frame", "Frame Depth", "Score"} objects')  # fmt: skip
    cells = []
    for i, row in enumerate(rows):
        where = f"'{path}' entry {i}"
        if not isinstance(row, dict) or not {"Num. Frame", "Frame Depth", "Score"} <= set(row):
            raise NiahError(
                f'{where} lacks "Num. Frame", "Frame Depth" or "Score": is this LongVA\'s all_accuracies.json?'
            )
        frames, depth, score = (_number(row[k], k, where) for k in ("Num. Frame", "Frame Depth", "Score"))
        if frames < 1 or frames != int(frames):
            raise NiahError(f"{where}: 'Num. Frame' is {row['Num. Frame']!r}, not a whole number of frames")
        if not 0 <= depth <= 100:
            raise NiahError(f"{where}: 'Frame Depth' is {depth}, outside 0–100 percent")
        if not 0 <= score <= 1:
            raise NiahError(f"{where}: 'Score' is {score}, outside 0–1")
        cells.append(Cell(int(frames), int(depth) if depth == int(depth) else depth, score))
    seen: set[tuple[int, float]] = set()
    for c in cells:
        if (c.length, c.depth) in seen:
            raise NiahError(f"'{path}' lists the cell ({c.length} frames, depth {c.depth}) twice")
        seen.add((c.length, c.depth))
    return cells


READERS: dict[str, tuple[Callable[[Path], list[Cell]], str]] = {"longva": (read_longva, "exact_match")}
"""Format name → (reader, the metric its scores are). VideoRoPE writes LongVA's format."""
ALIASES = {"videorope": "longva"}


def import_results(fmt: str, file: str | Path, out: str | Path, model: str, variant: str, task: str,
                   source: str | None = None) -> Path:  # fmt: skip
    """Write run dir `out` from published results `file` in format `fmt`. `variant` is a niah
    variant spec (resolved through the registry), `task` a niah task name, `source` free text
    saying where the file comes from (repository, commit, path). An existing run dir is replaced
    only when it is itself an import; anything else at `out` is refused."""
    from niah.rope import resolve_variant
    from niah.tasks import get_task

    if ALIASES.get(fmt, fmt) not in READERS:
        raise unknown("import format", fmt, [*READERS, *ALIASES])
    reader, metric = READERS[ALIASES.get(fmt, fmt)]
    spec, task_name = resolve_variant(variant).spec, get_task(task).name
    path, root = Path(file), Path(out)
    if not path.is_file():
        raise NiahError(f"results file '{file}' does not exist")
    cells = reader(path)
    check_out(root)
    config = {
        "imported": {
            "format": ALIASES.get(fmt, fmt),
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "metric": metric,
            "source": source,
        },  # fmt: skip
        "dataset": None,
        "dataset_manifest_sha256": None,
        "model": model,
        "variants": [spec],
        "tasks": [task_name],
        "lengths": sorted({c.length for c in cells}),
        "depths": sorted({c.depth for c in cells}),
    }
    records = [{"key": f"{task_name}|{spec}|{c.length}|{c.depth}", "status": "ok", "imported": True,
                "task": task_name, "variant": spec, "model": model, "length": c.length, "depth": c.depth,
                "needle": None, "metric": metric, "metrics": {metric: {"score": c.score}}} for c in cells]  # fmt: skip
    mean = sum(c.score for c in cells) / len(cells)
    summary = {"imported": True, "cells": len(cells), "metric": metric,
               "accuracy": {f"{model}|{spec}|{task_name}": mean}}  # fmt: skip
    return write_run(root, records, summary, config)


def write_run(root: Path, records: list[dict[str, Any]], summary: dict[str, Any], config: dict[str, Any]) -> Path:
    """Write an imported run dir: results.jsonl, summary.json and run.json (each file in one step)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic_write(root / RESULTS, "".join(json.dumps(r) + "\n" for r in records))
        atomic_write(root / SUMMARY, json.dumps(summary, indent=2) + "\n")
        atomic_write(root / RUN, json.dumps({"config": config}, indent=2) + "\n")
    except OSError as err:
        raise NiahError(f"cannot write run dir '{root}': {err.strerror}") from None
    return root


def check_out(root: Path) -> None:
    """Refuse `root` unless it is absent, empty, or an earlier import (replaced)."""
    if not root.exists():
        return
    if not root.is_dir():
        raise NiahError(f"'{root}' exists and is not a folder: choose another --out")
    run = root / RUN
    if run.is_file():
        try:
            imported = "imported" in json.loads(run.read_text()).get("config", {})
        except (ValueError, AttributeError):
            imported = False
        if not imported:
            raise NiahError(f"'{root}' holds a niah run of its own, not an import: choose another --out")
    elif any(root.iterdir()):
        raise NiahError(f"'{root}' exists and is not a niah run dir: choose another --out")
