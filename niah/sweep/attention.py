"""Attention at the answer, grouped by what each frame is: one `attention.jsonl` line per sample.

A backend hands the engine each sample's attention per frame (niah.answer_attention.FrameAttention);
the engine, which knows the cell, sums it into four groups per layer — the needle's tokens (every
needle frame of a multi-needle task), the look-alikes' tokens, the rest of the haystack, the text —
which sum to 1 per layer (mean over heads), and keeps:

- `mass`: {group: [per layer]}; `nearest_lookalike`: [per layer] the look-alike frame closest to a
  needle (V-NIAH-D; None without look-alikes); `head_mass` with `--attention-heads`: {group:
  [[per head] per layer]};
- `frame_mass`: [per frame] the mean over layers and heads (the report shades each sample's strip
  with it); `top`: the group of the frame it weighs most ("needle", "lookalike", "haystack");
  `needle_rank`: 1 + how many frames weigh more than the heaviest needle frame.

`verdict` reads a wrong answer through `top`: "missed" (the heaviest frame is a haystack frame:
attention never reached the needle), "lured" (a look-alike), "found" (the needle: attention found
it and the answer was still wrong). Layers are averaged because no one layer is the retrieving
one in every model; the per-layer curves show where it happens.

The lines live beside results.jsonl, never inside it (per-head records are large); a line is
written before its sample's result line, so a result always has its attention, and the latest
line per key wins on resume.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from niah.errors import NiahWarning
from niah.stats import mean_bounds
from niah.sweep import outcomes as oc

if TYPE_CHECKING:
    from niah.data.dataset import FrameRef

ATTENTION = "attention.jsonl"
MODES = ("layers", "heads")
"""What a run records (RunConfig.attention): per layer (mean over heads), or per layer and head too."""
GROUPS = ("needle", "lookalike", "haystack", "text")
KIND_GROUP = {"needle": 0, "distractor": 1, "haystack": 2}
VERDICTS = ("missed", "found", "lured")
"""Why a wrong answer was wrong, read from the heaviest frame: haystack, needle, look-alike."""


def _rounded(values: np.ndarray) -> list:
    return np.round(values.astype(float), 6).tolist()


def attention_record(key: str, layers: Sequence[int], mass: np.ndarray, frames: Sequence[FrameRef],
                     per_head: bool = False) -> dict[str, Any]:  # fmt: skip
    """The attention.jsonl line of one sample: `mass` (layers, heads, frames + 1) as
    niah.answer_attention.FrameAttention holds it, `frames` the sample's frames in prompt order."""
    n = len(frames)
    if mass.shape[-1] != n + 1:
        raise ValueError(f"attention over {mass.shape[-1] - 1} frames for a sample of {n}")
    group = np.array([KIND_GROUP[f.kind] for f in frames] + [3])
    onehot = np.eye(len(GROUPS))[group]  # (frames + 1, 4)
    by_head = mass @ onehot  # (layers, heads, 4)
    by_layer = by_head.mean(1)  # (layers, 4)
    frame_mass = mass[..., :n].mean((0, 1))  # (frames,)
    needles = np.flatnonzero(group[:n] == 0)
    lookalikes = np.flatnonzero(group[:n] == 1)
    out: dict[str, Any] = {"key": key, "layers": list(layers), "heads": int(mass.shape[1]),
                           "mass": {g: _rounded(by_layer[:, i]) for i, g in enumerate(GROUPS)}}  # fmt: skip
    if len(lookalikes) and len(needles):
        nearest = lookalikes[np.abs(lookalikes[:, None] - needles[None]).min(1).argmin()]
        out["nearest_lookalike"] = _rounded(mass[:, :, nearest].mean(1))
    else:
        out["nearest_lookalike"] = None
    if per_head:
        out["head_mass"] = {g: _rounded(by_head[:, :, i]) for i, g in enumerate(GROUPS)}
    out["frame_mass"] = _rounded(frame_mass)
    heaviest = int(frame_mass.argmax())
    out["top"] = GROUPS[group[heaviest]]
    out["needle_rank"] = 1 + int((frame_mass > frame_mass[needles].max()).sum()) if len(needles) else None
    return out


def verdict(record: dict[str, Any]) -> str:
    """'missed', 'found' or 'lured' (VERDICTS) from a record's heaviest frame."""
    return {"haystack": "missed", "needle": "found", "lookalike": "lured"}[record["top"]]


def layer_mean(record: dict[str, Any], group: str) -> float:
    """A record's mass on `group`, averaged over its layers."""
    return float(np.mean(record["mass"][group]))


def attention_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The readable lines of one attention file, in order, and how many were damaged (a crash
    mid-write cuts the last one short)."""
    records, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            record["key"]
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        records.append(record)
    return records, bad


def needle_mass(records: Sequence[dict[str, Any]]) -> tuple[float, float, float]:
    """The mean needle mass (over layers, then samples) of records carrying their attention line,
    and its 95 % interval: Student's t over needles' means (and model seeds', the wider;
    niah.stats.mean_bounds)."""
    mass = [layer_mean(r["attention"], "needle") for r in records]
    low, high = mean_bounds(mass, [str(r.get("needle")) for r in records], [str(r.get("model_seed")) for r in records])
    return float(np.mean(mass)), low, high


def wrong_split(records: Sequence[dict[str, Any]], metric: str) -> tuple[int, dict[str, int]]:
    """How many of the records are wrong under `metric`, and how many of those each `verdict` holds."""
    wrong = [r for r in records if oc.value(r, metric) == 0.0]
    return len(wrong), {v: sum(verdict(r["attention"]) == v for r in wrong) for v in VERDICTS}


def read_attention(root: str | Path) -> dict[str, dict[str, Any]]:
    """The latest attention line per sample key across a run dir's attention files ({} when it has
    none); a damaged line (a crash mid-write) is skipped with a NiahWarning (its sample's result
    line, written after it, is then missing too, so the sample reruns)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(root).glob("attention*.jsonl")):
        records, bad = attention_lines(path)
        out.update((r["key"], r) for r in records)
        if bad:
            warnings.warn(NiahWarning(f"'{path}' has {bad} damaged line{'s' if bad > 1 else ''}: skipped"),
                          stacklevel=2)  # fmt: skip
    return out
