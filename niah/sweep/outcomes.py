"""Each record's metrics, read the same way by summaries, plots, tables and reports.

A record written since metrics are recorded by name holds `metrics` ({name: {prediction, correct,
lured, ...}}) and names its primary one in `metric`; an imported cell holds its published score
(a fraction) as `metrics[name]["score"]`. Older records hold `correct` alone, which meant what
their backend then computed: the hf backend's letter argmax (`mc`), the probe's retrieval
(`probe`), a tiny model's option-value argmax (`value_choice`); an older import's `correct` is
LongVA's and VideoRoPE's published exact match.
"""

from __future__ import annotations

from typing import Any

LEGACY_METRICS = {"hf": "mc", "probe": "probe", "tiny": "value_choice"}
"""--model prefix → the metric an old record's `correct` holds."""


def outcomes(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Metric name → {"correct": bool, "lured": bool | None, ...} of an ok record, or for an
    imported cell {"score": fraction}."""
    if "metrics" in record:
        return record["metrics"]
    if record.get("imported"):
        return {"exact_match": {"score": float(record["correct"])}}
    name = LEGACY_METRICS.get(str(record.get("model", "")).split(":")[0], "mc")
    return {name: {"prediction": record.get("prediction", ""), "correct": record["correct"],
                   "lured": record.get("lured")}}  # fmt: skip


def primary(record: dict[str, Any]) -> str:
    """The metric the record's `correct` holds (its task's primary among those computed)."""
    return record.get("metric") or next(iter(outcomes(record)))


def value(record: dict[str, Any], metric: str) -> float | None:
    """The record's score under `metric`: 1.0 / 0.0 for a sample, the published fraction for an
    imported cell; None when the record lacks the metric."""
    entry = outcomes(record).get(metric)
    if entry is None:
        return None
    return float(entry["score"]) if "score" in entry else float(bool(entry["correct"]))


def lured(record: dict[str, Any], metric: str) -> bool | None:
    """Whether the record's `metric` prediction was a look-alike's wrong option (None: no lure rate)."""
    entry = outcomes(record).get(metric) or {}
    return None if entry.get("lured") is None else bool(entry["lured"])


def degenerate(record: dict[str, Any], metric: str) -> bool | None:
    """Whether a `generate` output was degenerate (None for other metrics)."""
    entry = outcomes(record).get(metric) or {}
    return None if entry.get("degenerate") is None else bool(entry["degenerate"])
