"""Loading run dirs for plotting, and turning records into accuracy grids.

Figures and tables are derived from results.jsonl (and attention.jsonl, where a run recorded it)
alone, never by re-running a model.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from niah.data.dataset import DEPTH_AXIS
from niah.errors import NiahError, NiahWarning
from niah.stats import LEVEL, clustered_bounds, exact_interval
from niah.sweep import outcomes as oc
from niah.sweep.attention import read_attention
from niah.sweep.store import RUN, ResultsStore, damage_note, read_run_config
from niah.tasks import TASKS
from niah.tasks.metrics import METRICS, get_metric


def load_runs(paths: Sequence[str | Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """The ok records of every run dir (latest per sample), and the variants in the order the
    runs list them; every run must use the same dataset, except imported runs (published cells,
    niah.sweep.imported), which have none and plot beside any."""
    records: list[dict[str, Any]] = []
    order: list[str] = []
    datasets: dict[str, str] = {}
    for path in expand_run_dirs(paths):
        if not (path / RUN).is_file():
            raise NiahError(f"'{path}' is not a niah run dir (no {RUN}): make one with niah run")
        config = read_run_config(path)
        if config.get("dataset_manifest_sha256"):
            datasets[config["dataset_manifest_sha256"]] = config["dataset"]
        order += [v for v in config["variants"] if v not in order]
        store = ResultsStore(path)
        ok = [r for r in store.all_results().values() if r["status"] == "ok"]
        for file, lines in store.damaged.items():
            warnings.warn(NiahWarning(damage_note(file, lines)), stacklevel=2)
        if not ok:
            raise NiahError(f"run dir '{path}' has no finished samples yet: run niah run first")
        attention = read_attention(path)  # niah run --attention: each sample's line rides on its record
        records += [r | {"attention": attention[r["key"]]} if r["key"] in attention else r for r in ok]
    if len(datasets) > 1:
        raise NiahError(f"the runs use {len(datasets)} different datasets ({', '.join(sorted(datasets.values()))}): "
                        "plot runs of one dataset together")  # fmt: skip
    return records, order


def expand_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Each path as is, except a folder of run dirs (e.g. references/videorope), which stands for
    the run dirs directly inside it, in the registry's order of their first variant (vanilla,
    tad, ..., m-rope, ..., videorope: the papers' order), then by name."""
    from niah.rope import VARIANTS

    rank = {name: i for i, name in enumerate(VARIANTS)}

    def order(run: Path) -> tuple[int, str]:
        try:
            first = json.loads((run / RUN).read_text())["config"]["variants"][0].split(":")[0]
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            first = ""
        return rank.get(first, len(rank)), run.name

    out = []
    for path in map(Path, paths):
        inner = sorted((p.parent for p in path.glob(f"*/{RUN}")), key=order) if not (path / RUN).is_file() else []
        out += inner or [path]
    return out


def choose_metric(records: list[dict[str, Any]], asked: str | None = None) -> str:
    """The one metric every model's records are drawn in: `asked` (--metric), else the metric of
    the imported runs (published cells have only theirs), else the primary metric the records
    share, else the first metric every record has. NiahError, in one line naming the --metric to
    pass, where a model lacks it or the models share none: two metrics are never drawn under one
    label."""
    have: dict[str, set[str]] = {}
    imported: set[str] = set()
    for r in records:
        names = set(oc.outcomes(r))
        have[r["model"]] = have[r["model"]] & names if r["model"] in have else names
        if r.get("imported"):
            imported.add(r["model"])
    common = [m for m in METRICS if all(m in names for names in have.values())]
    if asked is not None:
        get_metric(asked)
        lacking = sorted(m for m, names in have.items() if asked not in names)
        if lacking:
            what = "; ".join(f"{m} has {', '.join(sorted(have[m])) or 'none'}"
                             + (" (published cells)" if m in imported else "") for m in lacking)  # fmt: skip
            fix = f"pass --metric {common[0]}" if common else "plot them apart"
            raise NiahError(f"--metric {asked} is not in every run ({what}): {fix}")
        return asked
    wanted = sorted({m for model in imported for m in have[model]}) or sorted({oc.primary(r) for r in records})
    if len(wanted) == 1 and wanted[0] in common:
        return wanted[0]
    if not imported and common:
        return common[0]
    spans = "; ".join(f"{m}: {', '.join(sorted(names))}" for m, names in sorted(have.items()))
    fix = f"pass --metric {common[0]}" if common else "the runs share no metric: plot them apart"
    raise NiahError(f"the runs record different metrics ({spans}): {fix}")


@dataclass(frozen=True)
class Grid:
    """Scores of one metric per (depth, length): `accuracy` (n_depths, n_lengths), NaN where no sample ran,
    averaged over needles and, for runs of several model seeds plotted together, over seeds;
    `samples` (n_depths, n_lengths) how many records each cell averages (for an imported run, one
    published cell each); `lure_rate`: the fraction of V-NIAH-D samples answered with a
    distractor's lure (NaN for a task without distractors); `imported`: the records are published
    cells, not niah's samples; `metric`: the metric's name (niah.tasks.metrics). Intervals (95 %):
    `low`/`high` per cell, exact for its k of n samples; `interval` and `lure_interval` for the
    overall mean and lure rate, exact at the effective sample size with needles as clusters (the
    wider of that and model seeds as clusters, where several seeds meet); NaN for imported cells
    (published fractions: no interval)."""

    lengths: list[int]
    depths: list[int]
    accuracy: np.ndarray
    samples: np.ndarray
    lure_rate: float = float("nan")
    seed_accuracies: tuple[float, ...] = ()  # overall accuracy per model seed, when runs of several seeds meet
    imported: bool = False
    seed_lure_rates: tuple[float, ...] = ()  # lure rate per model seed, likewise
    metric: str = "exact_match"
    low: np.ndarray | None = None  # (n_depths, n_lengths) the cells' exact 95 % intervals; None: imported
    high: np.ndarray | None = None
    interval: tuple[float, float] = (float("nan"), float("nan"))  # the overall mean's, clustered (niah.stats)
    lure_interval: tuple[float, float] = (float("nan"), float("nan"))
    axis: str = DEPTH_AXIS  # what the second axis holds: the task's (niah.tasks.Task.axis)

    @property
    def metric_title(self) -> str:
        return METRICS[self.metric].title

    @property
    def seed_spread(self) -> float:
        """Standard deviation of the per-seed accuracies (NaN with fewer than two seeds)."""
        return float(np.std(self.seed_accuracies, ddof=1)) if len(self.seed_accuracies) > 1 else float("nan")

    @property
    def lure_spread(self) -> float:
        """Standard deviation of the per-seed lure rates (NaN with fewer than two seeds)."""
        return float(np.std(self.seed_lure_rates, ddof=1)) if len(self.seed_lure_rates) > 1 else float("nan")

    @property
    def has_lures(self) -> bool:
        return not np.isnan(self.lure_rate)

    @property
    def overall(self) -> float:
        """Mean over samples (every needle of every cell weighs the same)."""
        total = np.nansum(self.accuracy * self.samples)
        return float(total / self.samples.sum()) if self.samples.sum() else float("nan")


def model_grids(records: list[dict[str, Any]], metric: str) -> dict[tuple[str, str, str], Grid]:
    """One grid of `metric` per (model, variant, task), on the lengths and depths of its model's runs: runs of
    one model share axes (their figures compare cell by cell), while a model whose grid is another
    (a paper's imported cells beside a niah run) is drawn on its own, said in a NiahWarning,
    instead of every figure spanning the union, mostly hatched."""
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_model[r["model"]].append(r)
    axes = {m: axes_of(rs) for m, rs in by_model.items()}
    if len({(tuple(a), tuple(b)) for a, b in axes.values()}) > 1:
        spans = "; ".join(f"{m}: {a[0]}-{a[-1]} frames ({len(a)} lengths), depths {b[0]}-{b[-1]} ({len(b)})"
                          for m, (a, b) in sorted(axes.items()))  # fmt: skip
        warnings.warn(NiahWarning(f"the models' grids differ ({spans}): each model's figures are drawn on its own "
                                  "lengths and depths"), stacklevel=2)  # fmt: skip
    return {k: grid(rs, *axes[k[0]], metric) for k, rs in groups(records).items()}


def axes_of(records: Iterable[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """Every length and depth present, sorted (so all panels of a figure share axes)."""
    records = list(records)
    return sorted({r["length"] for r in records}), sorted({r["depth"] for r in records})


def grid(records: Iterable[dict[str, Any]], lengths: list[int], depths: list[int], metric: str) -> Grid:
    """Average score of `metric` over needles per (depth, length) cell (an imported record's is its
    cell's published fraction); records without the metric are left out."""
    hits: dict[tuple[int, int], list[float]] = defaultdict(list)
    lured: list[bool] = []
    by_seed: dict[int, list[bool]] = defaultdict(list)
    lured_by_seed: dict[int, list[bool]] = defaultdict(list)
    records = [r for r in records if oc.value(r, metric) is not None]
    scores, needles, seeds_of, lure_rows = [], [], [], []
    for r in records:
        score, lure = oc.value(r, metric), oc.lured(r, metric)
        hits[(r["depth"], r["length"])].append(score)
        scores.append(score)
        needles.append(str(r.get("needle")))
        seeds_of.append(str(r.get("model_seed")))
        if lure is not None:
            lured.append(lure)
            lure_rows.append(len(scores) - 1)
        if r.get("model_seed") is not None:
            by_seed[r["model_seed"]].append(score)
            if lure is not None:
                lured_by_seed[r["model_seed"]].append(lure)
    acc = np.full((len(depths), len(lengths)), np.nan)
    n = np.zeros((len(depths), len(lengths)), dtype=int)
    for i, d in enumerate(depths):
        for j, length in enumerate(lengths):
            if v := hits.get((d, length)):
                acc[i, j], n[i, j] = np.mean(v), len(v)
    seeds = tuple(float(np.mean(v)) for _, v in sorted(by_seed.items()))
    seed_lures = tuple(float(np.mean(v)) for _, v in sorted(lured_by_seed.items()))
    imported = bool(records) and all(r.get("imported") for r in records)
    axis = axis_of({r.get("task") for r in records})
    if imported or not records:
        return Grid(lengths, depths, acc, n, float(np.mean(lured)) if lured else float("nan"), seeds, imported,
                    seed_lures, metric, axis=axis)  # fmt: skip
    low, high = np.full_like(acc, np.nan), np.full_like(acc, np.nan)
    for i, j in zip(*np.nonzero(n), strict=True):
        low[i, j], high[i, j] = exact_interval(round(acc[i, j] * n[i, j]), int(n[i, j]), 1 - LEVEL)
    overall = clustered_bounds(scores, needles, seeds_of)
    lure = clustered_bounds([float(x) for x in lured], [needles[k] for k in lure_rows],
                            [seeds_of[k] for k in lure_rows])  # fmt: skip
    return Grid(lengths, depths, acc, n, float(np.mean(lured)) if lured else float("nan"), seeds, imported,
                seed_lures, metric, low, high, overall, lure, axis)  # fmt: skip


def task_order(names: Iterable[str]) -> list[str]:
    """Task names in registry order (v-niah, v-niah-d, ordering, ...), unregistered ones after, by name."""
    rank = {name: i for i, name in enumerate(TASKS)}
    return sorted(set(names), key=lambda t: (rank.get(t, len(rank)), t))


def axis_of(tasks: set[str | None]) -> str:
    """The second axis of a grid of these tasks' records: their task's (ordering: the group's place,
    distance: the needles' distance), or depth where the tasks differ or are not registered."""
    axes = {TASKS[t].axis if t in TASKS else DEPTH_AXIS for t in tasks}
    return axes.pop() if len(axes) == 1 else DEPTH_AXIS


def groups(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Records by (model, variant, task), in sorted order."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        out[(r["model"], r["variant"], r["task"])].append(r)
    return dict(sorted(out.items()))
