"""The sweep engine: plan → skip what is done → backend → one flushed line per sample → summary.

The engine knows nothing of a backend beyond niah.backends.base.Backend, so the probe and the
transformers backend run through the same code. Under torchrun, RANK / WORLD_SIZE pick the
shard when none is given.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from niah.backends import Backend, Sample, SampleResult, make_backend
from niah.data.dataset import RETRIEVAL_TASKS, Dataset
from niah.errors import NiahError, unknown
from niah.files import atomic_write
from niah.rope import resolve_variant
from niah.stats import resolution_lines
from niah.sweep.attention import MODES, attention_record, read_attention
from niah.sweep.plan import Shard, make_plan
from niah.sweep.store import PLAN_LISTS, RUN, SUMMARY, ResultsStore, read_run_config, run_dir_config
from niah.sweep.summary import summarize
from niah.tasks import get_task

DEFAULT_VARIANTS = ["vanilla", "m-rope", "videorope"]
DEFAULT_TASKS = list(RETRIEVAL_TASKS)


@dataclass
class RunConfig:
    """What a run sweeps. Lengths in frames and depths in percent (None: all in the dataset);
    `limit` keeps the first N cells; `backend_options` go to the backend factory."""

    dataset: str
    model: str
    variants: list[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))
    tasks: list[str] = field(default_factory=lambda: list(DEFAULT_TASKS))
    lengths: list[int] | None = None
    depths: list[int] | None = None
    limit: int | None = None
    seed: int = 0
    backend_options: dict[str, Any] = field(default_factory=dict)
    attention: str | None = None  # record attention at the answer: one of niah.sweep.attention.MODES


class RunInterrupted(Exception):
    """Ctrl-C: the results so far are saved; rerunning the same command resumes."""


@dataclass
class Prepared:
    dataset: Dataset
    backend: Backend
    plan: list
    shard_plan: list
    resolved: dict[str, Any]
    note: str | None = None  # one line for the user, e.g. needles the backend skips


def prepare(config: RunConfig, shard: Shard | None = None) -> Prepared:
    """Validate everything (dataset, tasks, variants, backend, lengths) before anything is written."""
    dataset = Dataset(config.dataset)
    tasks = [get_task(t) for t in config.tasks]
    variants = [resolve_variant(v) for v in config.variants]
    if not tasks or not variants:
        raise NiahError("give at least one task and one variant")
    backend = make_backend(config.model, seed=config.seed, **config.backend_options)
    backend.check_variants(variants)
    if config.attention:
        if config.attention not in MODES:
            raise unknown("attention mode", config.attention, MODES)
        backend.record_attention(config.attention)
    plan, note = _answerable(make_plan(dataset, tasks, variants, config.lengths, config.depths, config.limit),
                             backend, dataset)  # fmt: skip
    backend.check_plan(dataset, plan)
    shard = shard or shard_from_env()
    resolved = {
        "dataset": str(dataset.path.resolve()),
        "dataset_manifest_sha256": dataset.manifest_hash,
        "model": backend.name,
        "backend": backend.config(),
        "variants": [v.spec for v in variants],
        "tasks": [t.name for t in tasks],
        "lengths": config.lengths,
        "depths": config.depths,
        "limit": config.limit,
        "seed": config.seed,
        "attention": config.attention,  # selects what is recorded beside the samples, never what they answer
    }
    if shard.count > 1:  # blocks of equal estimated work in run order: long prompts cost quadratically
        ordered = backend.order(plan)
        shard_plan = shard.select(ordered, [backend.estimate_cost(dataset, s) for s in ordered])
    else:
        shard_plan = plan
    return Prepared(dataset, backend, plan, shard_plan, resolved, note)


def _answerable(plan: list[Sample], backend: Backend, dataset: Dataset) -> tuple[list[Sample], str | None]:
    """The samples whose query the backend can answer, and one line naming the needles skipped per task."""
    reasons = {(s.task.name, s.cell.needle): why for s in plan if (why := backend.skip_reason(s.query))}
    if not reasons:
        return plan, None
    kept = [s for s in plan if (s.task.name, s.cell.needle) not in reasons]
    by_reason: dict[str, dict[str, list[str]]] = {}  # why -> task -> needles
    for (task, needle), why in sorted(reasons.items()):
        by_reason.setdefault(why, {}).setdefault(task, []).append(needle)
    listed = "; ".join(f"{_which(tasks, dataset)}: {why}" for why, tasks in by_reason.items())
    if not kept:
        raise NiahError(f"{backend.name} can answer no sample of '{dataset.path}' ({listed}): run tasks it answers, "
                        "or generate a dataset with needles it can see, e.g. --families colour,shape,count,"
                        "position")  # fmt: skip
    return kept, f"skipping what {backend.name} cannot answer ({listed})"


def _which(tasks: dict[str, list[str]], dataset: Dataset) -> str:
    """'ordering, counting (every needle)' or 'v-niah, v-niah-d on n001-shape': what one reason skips."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for task, needles in tasks.items():
        groups.setdefault(tuple(sorted(set(needles))), []).append(task)
    return " and ".join(f"{', '.join(names)} " + ("(every needle)" if len(needles) == len(dataset.needles)
                        else f"on {', '.join(needles)}") for needles, names in groups.items())  # fmt: skip


def shard_from_env() -> Shard:
    """The shard of this torchrun rank (RANK, WORLD_SIZE), or the whole plan."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Shard(int(os.environ.get("RANK", "0")) + 1, world) if world > 1 else Shard()


def non_finite(scores: Any, where: str = "") -> list[str]:
    """The names of the NaN or infinite numbers in `scores` (nested dicts and lists), e.g. ['needle_mass']."""
    if isinstance(scores, dict):
        return [name for k, v in scores.items() for name in non_finite(v, f"{where}.{k}" if where else str(k))]
    if isinstance(scores, list | tuple):
        return [name for i, v in enumerate(scores) for name in non_finite(v, f"{where}[{i}]")]
    return [where] if isinstance(scores, float) and not math.isfinite(scores) else []


def record(result: SampleResult, backend: Backend, dataset: Dataset) -> dict[str, Any]:
    """The results.jsonl line of a result: every metric's outcome under `metrics`, and the task's
    primary metric (named by `metric`) in `prediction`, `correct` and `lured`. A result with a NaN or
    infinite score is recorded as failed, naming the scores (never counted, retried on resume)."""
    if bad := non_finite(result.scores):
        result.error = f"non-finite score {', '.join(bad)}: the model or variant gave NaN or inf"
    if result.failed:
        result.scores, result.outcomes = {}, {}
    s = result.sample
    frames = s.frames(dataset)
    lures = s.query.lure_letters
    metrics = {name: o.as_json(lures) for name, o in result.outcomes.items()}
    primary = metrics.get(result.metric, {})
    return {
        "key": s.key, "task": s.task.name, "variant": s.variant.spec, "model": backend.name,
        "length": s.cell.length, "depth": s.cell.depth, "needle": s.cell.needle, "cell": s.cell.id,
        "insert_index": next((i for i, r in enumerate(frames) if r.kind == "needle"), None), "frames": len(frames),
        "metric": result.metric, "prediction": primary.get("prediction", ""), "answer": s.query.answer_label,
        "correct": bool(primary.get("correct", False)), "lured": primary.get("lured"), "metrics": metrics,
        "scores": result.scores, "seconds": round(result.seconds, 4),
        "status": "failed" if result.failed else "ok", "error": result.error, **backend.marks,
    }  # fmt: skip


def with_attention(done: set[str], out: str | Path, attention: str | None) -> set[str]:
    """The done keys that need no rerun: with `attention` asked for, only those whose attention is
    recorded as asked (a sample done without it runs again: same answer, now recorded)."""
    if not attention:
        return done
    recorded = read_attention(out) if Path(out).is_dir() else {}
    return {k for k in done if k in recorded and (attention != "heads" or "head_mass" in recorded[k])}


def dry_run(config: RunConfig, out: str | Path, shard: Shard | None = None, force: bool = False,
            resolve: float | None = None) -> str:  # fmt: skip
    """The plan as text: samples, estimated tokens, what the run dir already holds, the smallest
    paired difference the grid resolves (and with `resolve` the needles that difference needs).
    Writes nothing."""
    p = prepare(config, shard)
    done: set[str] = set()
    grows = "new run dir"
    if (Path(out) / RUN).is_file():
        recorded, discard = run_dir_config(Path(out), p.resolved, force)  # the real run's rules: refusal included
        done = set() if discard else ResultsStore(Path(out)).done_keys()
        grows = "--force: discards its results" if discard else _growth(Path(out), recorded)
    without = len(done)
    done = with_attention(done, out, config.attention)
    without -= len(done)
    tokens = [p.backend.estimate_tokens(p.dataset, s) for s in p.shard_plan]
    todo = [s for s in p.shard_plan if s.key not in done]
    spans = p.backend.prefill_spans(p.dataset, p.backend.order(todo))
    computed, prompts = sum(n - k for k, n in spans), sum(n for _, n in spans)
    reused = f" of their {prompts:,} prompt tokens" if computed < prompts else " tokens"
    lines = [
        f"dataset    {p.dataset.path}  ({len(p.dataset.cells)} cells)",
        f"model      {p.backend.name}  {json.dumps(p.backend.config())}",
        f"variants   {', '.join(p.resolved['variants'])}",
        f"tasks      {', '.join(p.resolved['tasks'])}",
        f"samples    {len(p.shard_plan)}" + (f" of {len(p.plan)} (shard)" if len(p.plan) != len(p.shard_plan) else ""),
        f"tokens     {sum(tokens):,} in all, {max(tokens, default=0):,} in the longest sample",
        f"run dir    {grows}",
        f"done       {len(p.shard_plan) - len(todo)} already in {out}; {len(todo)} to run"
        + (f" ({without} done without the attention asked for, run again to record it)" if without else ""),
        f"prefill    {computed:,}{reused} to compute" + (" (prefix reuse)" if computed < prompts else ""),
    ] + p.backend.memory_plan(max(tokens, default=0)) + ([f"note       {p.note}"] if p.note else [])
    cells = [s.cell for s in p.plan]
    lines += resolution_lines(len({c.needle for c in cells}), len({c.length for c in cells}),
                              len({c.depth for c in cells}), resolve)  # fmt: skip
    return "\n".join(lines)


def _growth(root: Path, recorded: dict[str, Any]) -> str:
    """'grows: + lengths 16, 24; + variants videorope' or 'same plan'."""
    old = read_run_config(root)
    added = []
    for key in PLAN_LISTS:
        before, after = old.get(key), recorded.get(key)
        if before is None:  # it already held all of them
            continue
        if after is None:
            added.append(f"+ all {key}")
        elif new := [x for x in after if x not in before]:
            added.append(f"+ {key} {', '.join(map(str, new))}")
    return f"grows: {'; '.join(added)}" if added else "same plan"


def run_sweep(config: RunConfig, out: str | Path, shard: Shard | None = None, force: bool = False,
              quiet: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any] | None:  # fmt: skip
    """Run (or resume) a sweep into run dir `out`. Returns the summary when the whole plan is
    done (all shards), else None. Raises RunInterrupted on Ctrl-C after saving what finished."""
    p = prepare(config, shard)
    shard = shard or shard_from_env()
    store = ResultsStore.open(out, p.resolved, shard.suffix, force)
    if p.note:  # even with quiet: it says which needles the results leave out
        echo(p.note)
    done = with_attention(store.done_keys(), out, config.attention)
    todo = [s for s in p.shard_plan if s.key not in done]
    bar = tqdm(
        total=len(p.shard_plan),
        initial=len(p.shard_plan) - len(todo),
        unit="sample",
        disable=quiet,
        desc=f"{p.backend.name}{' shard ' + str(shard.index) + '/' + str(shard.count) if shard.count > 1 else ''}",
    )
    failed = 0
    try:
        for result in p.backend.run(p.backend.order(todo), p.dataset):
            line = record(result, p.backend, p.dataset)
            if result.attention is not None and line["status"] == "ok":  # before the result: a result has its attention
                store.append_attention(attention_record(line["key"], result.attention.layers, result.attention.mass,
                                                        result.sample.frames(p.dataset), config.attention == "heads"))
            store.append(line)
            failed += result.failed
            bar.update(1)
            if result.failed and not quiet:
                bar.write(f"failed: {result.sample.key}: {result.error}")
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"interrupted: finished samples are saved in {out}; rerun the same command to resume"
        ) from None
    finally:
        store.close()
        bar.close()
    merged = store.merge({s.key for s in p.plan})
    if merged is None:
        if failed and not quiet:
            echo(f"{failed} samples failed; rerun the same command to retry them")
        return None
    attention = read_attention(out)  # each record's attention line, where the run recorded one
    summary = summarize(r | {"attention": attention[k]} if k in attention else r for k, r in merged.items())
    atomic_write(Path(out) / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary
