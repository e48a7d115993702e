"""`niah export`: a dataset dir as a Hugging Face dataset (Parquet + card) with an lmms-eval task folder.

Layout of an export (EXPORT/):

    README.md                  dataset card: the Hub's YAML front matter (configs, license, task
                               categories, size) and how the items were built (seed, niah version,
                               manifest hash, the audit's verdict)
    data/<task>/L<length>.parquet   one row per (task, cell): see `rows`
    media/haystack.mp4, media/needles/*.png   the shared haystack and every inserted image
    videos/<task>/<cell>.mp4   only with --materialize: each row's frames as one MP4
    niah_frames.py             composes a row's frames from media/ (numpy, PyAV, Pillow; no niah)
    lmms_eval_tasks/           niah_<task>.yaml per task + utils.py, for lmms-eval's --include_path
    SHA256SUMS                 sha256 of every other file (`sha256sum -c SHA256SUMS`)

Configs: one per task (every length) and one per task and length (`v-niah-L200`), split "test";
`datasets.load_dataset(EXPORT, "v-niah", split="test")`. The export is written into a temporary
sibling dir and renamed into place; an existing export is replaced only with `force`, anything else
at the path is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from niah.data.dataset import HAYSTACK, NEEDLES_DIR, Dataset, sha256_file
from niah.errors import FULL, NiahError, disk_hint
from niah.files import transient_lock, umask
from niah.tasks import Task, dataset_tasks
from niah.versions import versions

MARKER = "niah_export.json"  # names an export dir (so --force replaces only an export)


@dataclass(frozen=True)
class ExportPlan:
    """What an export writes: the rows per task, and sizes in bytes (media copied, materialised
    MP4s estimated from the haystack's bytes per frame)."""

    rows: dict[str, list[dict[str, Any]]]
    media_bytes: int
    video_bytes: int

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.rows.values())


def rows(dataset: Dataset, task: Task, materialize: bool) -> list[dict[str, Any]]:
    """One row per cell of `task`: id, task, cell, length (haystack frames), depth (the task's axis,
    percent), axis, needle, question, options, answer (letter, or the open answer), answer_text,
    lure_letters (None: no lure rate), metric (what lmms-eval scoring computes: `generate`), metrics
    (the task's, primary first), fps, haystack (path), insertions ([{index, image}]: sequence index
    and image path), num_frames, video (path with --materialize, else None)."""
    out = []
    for cell in task.cells(dataset):
        q = task.query(dataset, cell)
        inserted, haystack = [], 0
        for k, ref in enumerate(q.frames):
            if ref.kind == "haystack":
                if ref.index != haystack:
                    raise NiahError(f"cell {cell.id}: haystack frames out of order, cannot be exported")
                haystack += 1
            else:
                inserted.append({"index": k, "image": f"media/{NEEDLES_DIR}/{dataset.image_name(ref)}"})
        out.append({
            "id": f"{task.name}|{cell.id}", "task": task.name, "cell": cell.id, "length": cell.length,
            "depth": cell.depth, "axis": task.axis, "needle": cell.needle, "question": q.question,
            "options": list(q.options), "answer": q.answer_label, "answer_text": q.answer,
            "lure_letters": None if q.lure_letters is None else sorted(q.lure_letters), "metric": "generate",
            "metrics": list(task.metrics), "fps": float(dataset.options["fps"]), "haystack": f"media/{HAYSTACK}",
            "insertions": inserted, "num_frames": len(q.frames),
            "video": f"videos/{task.name}/{cell.id}.mp4" if materialize else None,
        })  # fmt: skip
    return out


def plan_export(dataset: Dataset, materialize: bool) -> ExportPlan:
    """The rows and the bytes an export of `dataset` would write."""
    by_task = {t.name: rows(dataset, t, materialize) for t in dataset_tasks(dataset)}
    media = sum(p.stat().st_size for p in (dataset.path / NEEDLES_DIR).rglob("*.png"))
    haystack = (dataset.path / HAYSTACK).stat().st_size
    per_frame = haystack / max(1, dataset.manifest["counts"]["haystack_frames"])
    video = int(sum(r["num_frames"] * per_frame for rs in by_task.values() for r in rs)) if materialize else 0
    return ExportPlan(by_task, media + haystack, video)


def describe_plan(plan: ExportPlan, out: Path) -> str:
    """--dry-run's lines: rows per task and the sizes, against the free space where it would go."""
    free = shutil.disk_usage(_existing_parent(out)).free
    lines = [f"rows         {plan.count} ({', '.join(f'{t} {len(r)}' for t, r in plan.rows.items())})",
             f"media        {plan.media_bytes / 1e6:,.1f} MB (the shared haystack and images)"]  # fmt: skip
    if plan.video_bytes:
        lines.append(f"videos       about {plan.video_bytes / 1e6:,.1f} MB (--materialize: one MP4 per row)")
    lines.append(f"free         {free / 1e6:,.1f} MB at {_existing_parent(out)}")
    return "\n".join(lines)


def _existing_parent(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


Progress = Callable[[int, int], None]


def export(dataset_path: str | Path, out: str | Path, materialize: bool = False, force: bool = False,
           audit_line: str | None = None, progress: Progress | None = None) -> Path:  # fmt: skip
    """Write the export of the dataset at `dataset_path` to `out` (see the module docstring);
    `audit_line` is the audit's verdict for the card (None: not audited). Refused in one line when
    the estimate exceeds the free disk, or `out` holds anything but an earlier export (that one
    only with `force`)."""
    dataset = Dataset(dataset_path)
    out = Path(os.path.realpath(out))
    plan = plan_export(dataset, materialize)
    need, free = plan.media_bytes + plan.video_bytes, shutil.disk_usage(_existing_parent(out)).free
    if need > free:
        raise NiahError(f"the export needs about {need / 1e6:,.0f} MB and {free / 1e6:,.0f} MB are free at "
                        f"{_existing_parent(out)}: free space or choose another --out")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    with transient_lock(out.parent / f".{out.name}.lock", f"'{out}' is being exported by another niah process"):
        _check_out(out, force)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
        os.chmod(tmp, 0o777 & ~umask())
        try:
            _write(dataset, plan, tmp, out, audit_line, progress)
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if err.errno in FULL:
                raise NiahError(f"no space left writing the export '{out}'{disk_hint(err, out.parent)}") from None
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def _check_out(out: Path, force: bool) -> None:
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not (out / MARKER).is_file():
        raise NiahError(f"'{out}' exists and is not a niah export: choose another --out (--force replaces only an "
                        "export)")  # fmt: skip
    if not force:
        raise NiahError(f"'{out}' holds an earlier export: pass --force to replace it, or choose another --out")


def _write(dataset: Dataset, plan: ExportPlan, tmp: Path, out: Path, audit_line: str | None,
           progress: Progress | None) -> None:  # fmt: skip
    """Everything into `tmp`, which becomes `out` (the lmms-eval YAMLs name `out`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from niah.export.card import card_text
    from niah.export.lmms import write_lmms_tasks

    shutil.copy2(dataset.path / HAYSTACK, _mkdir(tmp / "media") / HAYSTACK)
    shutil.copytree(dataset.path / NEEDLES_DIR, tmp / "media" / NEEDLES_DIR)
    lengths: dict[str, list[int]] = {}
    for task, task_rows in plan.rows.items():
        lengths[task] = sorted({r["length"] for r in task_rows})
        for length in lengths[task]:
            table = pa.Table.from_pylist([r for r in task_rows if r["length"] == length])
            pq.write_table(table, _mkdir(tmp / "data" / task) / f"L{length}.parquet")
    assets = resources.files("niah.export") / "assets"
    (tmp / "niah_frames.py").write_text((assets / "niah_frames.py").read_text())
    if any(r["video"] for rs in plan.rows.values() for r in rs):
        _materialize(tmp, plan, progress)
    write_lmms_tasks(tmp / "lmms_eval_tasks", list(plan.rows), (assets / "lmms_utils.py").read_text(), out)
    (tmp / MARKER).write_text(json.dumps({"dataset": str(dataset.path), "manifest_sha256": dataset.manifest_hash,
                                          "versions": versions()}, indent=2) + "\n")  # fmt: skip
    (tmp / "README.md").write_text(card_text(dataset, plan, lengths, audit_line))
    files = sorted(p for p in tmp.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    (tmp / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  {p.relative_to(tmp)}\n" for p in files))


def _materialize(tmp: Path, plan: ExportPlan, progress: Progress | None) -> None:
    """One MP4 per row, written by the export's own niah_frames.py (what consumers run)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("niah_frames", tmp / "niah_frames.py")
    frames = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frames)  # type: ignore[union-attr]
    todo = [r for rs in plan.rows.values() for r in rs]
    for i, row in enumerate(todo):
        frames.write_mp4(row, tmp, tmp / row["video"])
        if progress:
            progress(i + 1, len(todo))


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
