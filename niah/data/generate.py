"""Writing a dataset dir (see niah.data.dataset for its layout), atomically and reproducibly.

Everything is written into a temporary sibling dir and renamed into place at the end, so an
error or a kill never leaves a partial dataset that looks complete. The same config and seed
give byte-identical files (PNG, bitexact H.264, sorted JSON without timestamps).
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Queue
from typing import Any, TypeVar

from niah.data.dataset import (
    CELLS,
    DEPTH_AXIS,
    HAYSTACK,
    MANIFEST,
    NEEDLES_DIR,
    RETRIEVAL_TASKS,
    TASK_CELLS,
    Dataset,
    NeedleRecord,
    sha256_file,
)
from niah.data.families import DISTRACTOR_KINDS
from niah.data.grid import DISTRACTOR_MODES, Cell, cell_rng, check_grid, make_cell, option_order, parse_int_list
from niah.data.multi import MULTI_TASKS, multi_cells
from niah.data.needle_files import load_needle_file, resolve_needle_file, write_needle_set
from niah.data.needles import Needle, builtin_needles
from niah.data.presets import load_preset
from niah.data.sources import HAYSTACK_SOURCES, SourceSpec
from niah.data.video_io import Mp4Writer, mp4_rate, write_mp4
from niah.data.vruler import file_task, is_vruler, item_cells, item_needles, load_records, read_items
from niah.errors import FULL, NiahError, NiahWarning, disk_hint, unknown
from niah.files import transient_lock, umask
from niah.versions import versions

T = TypeVar("T")
BUILTIN_NEEDLE_OPTIONS = {"needles", "families", "distractor_kind"}  # ignored by a needle file: refused with it
MAX_SEED = 2**32  # dataset seeds lie below; niah train draws its training data from 2**32 up
MAX_SIDE = 4096  # pixels a frame side: a 4096x4096 RGB frame is 48 MiB
MAX_FRAMES = 1_000_000  # haystack frames: 278 hours at 1 fps, far past any model's context
MAX_CELLS = 1_000_000  # lengths x depths x needles
Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as frames are written."""


@dataclass(frozen=True)
class GenerateConfig:
    """Every option of a dataset. Lengths in frames, depths in percent, period in frames."""

    preset: str = "base"
    haystack: str = "synthetic"
    source: str | None = None  # video file or frames folder for the non-synthetic sources
    loop: bool = False  # repeat a short user video/folder instead of failing
    allow_truncated: bool = False  # use the frames of a truncated video instead of failing
    width: int = 448
    height: int = 252
    fps: float = 1.0
    seed: int = 0
    lengths: list[int] = field(default_factory=lambda: [200])
    depths: list[int] = field(default_factory=lambda: [50])
    needles: int = 5  # built-in needles; each is run in every (length, depth) cell
    families: list[str] = field(default_factory=list)
    needle_file: str | None = None  # the user's needles (JSONL) instead of built-in ones
    distractor_period: int = 200
    distractor_mode: str = "periodic"
    distractor_kind: str = "near"  # built-in needles: near (same scene, key changed) or scene (no key object)
    materialize: bool = False
    tasks: list[str] = field(default_factory=lambda: list(RETRIEVAL_TASKS))  # multi-needle ones add cells

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def resolve_config(preset: str | None, **overrides: Any) -> GenerateConfig:
    """The preset's options (default: base) with every non-None override applied and checked."""
    values = load_preset(preset or "base")
    given = {k for k, v in overrides.items() if v is not None}
    if "needle_file" in given and (builtin_only := sorted(given & BUILTIN_NEEDLE_OPTIONS)):
        raise NiahError(f"{', '.join(builtin_only)} shape built-in needles only and would change nothing with "
                        "--needles: drop them (your file sets the needles and their distractors)")  # fmt: skip
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["preset"] = preset or "base"
    for key in ("lengths", "depths"):
        if isinstance(values[key], str):
            values[key] = parse_int_list(values[key], key)
    for key in ("families", "tasks"):
        if isinstance(values.get(key), str):
            values[key] = [f for f in values[key].split(",") if f]
    if values.get("needle_file") and (path := vruler_file(values["needle_file"])):  # items, not needles
        asked = overrides.get("tasks")
        values["tasks"] = [file_task(path, asked.split(",") if isinstance(asked, str) else asked or [])]
    config = GenerateConfig(**values)
    check_config(config)
    return config


def vruler_file(name: str) -> Path | None:
    """The needle file's path when it holds V-RULER items (niah.data.vruler), else None."""
    try:
        path = resolve_needle_file(name)
    except NiahError:
        return None
    return path if path.suffix == ".json" and is_vruler(load_records(path)) else None


def check_config(c: GenerateConfig) -> None:
    """Reject bad options before any work: grid, sizes, source kind, distractor rule."""
    check_grid(c.lengths, c.depths)
    if c.haystack not in HAYSTACK_SOURCES:
        raise NiahError(f"unknown haystack source '{c.haystack}': choose {', '.join(HAYSTACK_SOURCES)}")
    if c.allow_truncated and c.haystack != "video":
        raise NiahError(f"--allow-truncated applies to --video only; the {c.haystack} haystack has no container "
                        "to be truncated: drop it")  # fmt: skip
    if c.width < 28 or c.height < 28 or c.width % 2 or c.height % 2:
        raise NiahError(f"frame size {c.width}x{c.height}: width and height must be even and at least 28 pixels")
    if max(c.width, c.height) > MAX_SIDE:
        raise NiahError(f"frame size {c.width}x{c.height}: at most {MAX_SIDE} pixels a side (one frame of "
                        f"{c.width}x{c.height} would take {c.width * c.height * 3 / 2**30:,.1f} GiB)")  # fmt: skip
    if max(c.lengths) > MAX_FRAMES:
        raise NiahError(f"haystack length {max(c.lengths):,} frames: at most {MAX_FRAMES:,} (278 hours at 1 fps); "
                        "check --lengths")  # fmt: skip
    cells = len(c.lengths) * len(c.depths) * max(1, c.needles)
    if cells > MAX_CELLS:
        raise NiahError(f"{cells:,} cells ({len(c.lengths)} lengths x {len(c.depths)} depths x needles): at most "
                        f"{MAX_CELLS:,}; check --lengths and --depths")  # fmt: skip
    if not 0 <= c.seed < MAX_SEED:
        raise NiahError(f"seed {c.seed} is outside 0 to 2**32 - 1 (larger seeds are niah train's own)")
    if not (math.isfinite(c.fps) and c.fps > 0):
        raise NiahError(f"fps must be a positive number, got {c.fps}")
    if abs(float(mp4_rate(c.fps)) - c.fps) > 1e-3 * c.fps:
        raise NiahError(f"fps {c.fps:g} cannot be an MP4's frame rate (it would be written as {mp4_rate(c.fps)}): "
                        "use a rate of at least 0.001 frames per second that is a fraction with a denominator up "
                        "to 1000")  # fmt: skip
    if c.needles < 1 and not c.needle_file:
        raise NiahError("needles per cell must be at least 1")
    if c.distractor_mode not in DISTRACTOR_MODES:
        raise unknown("distractor mode", c.distractor_mode, DISTRACTOR_MODES)
    if c.distractor_kind not in DISTRACTOR_KINDS:
        raise unknown("distractor kind", c.distractor_kind, DISTRACTOR_KINDS)
    if c.distractor_period < 1:
        raise NiahError(f"distractor period must be at least 1 frame, got {c.distractor_period}")
    for task in c.tasks:
        if task not in RETRIEVAL_TASKS and task not in MULTI_TASKS:
            raise unknown("task", task, [*RETRIEVAL_TASKS, *MULTI_TASKS])
    if not c.tasks:
        raise NiahError(f"give at least one task: {', '.join([*RETRIEVAL_TASKS, *MULTI_TASKS])}")


def prefetch(items: Iterator[T], depth: int = 16) -> Iterator[T]:
    """Iterate `items` in a background thread, `depth` ahead: frame synthesis or decoding then
    overlaps with H.264 encoding (numpy, OpenCV and PyAV release the GIL). Errors are re-raised
    here, in order."""
    queue: Queue = Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                queue.put(item)
            queue.put(done)
        except BaseException as err:  # handed to the consumer
            queue.put(err)

    threading.Thread(target=produce, daemon=True).start()
    while (item := queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def grid_cells(c: GenerateConfig, needles: list[Needle]) -> list[Cell]:
    """Every (length, depth, needle) cell of the grid. Needle i's k-th cell (lengths outer, depths
    inner) shows its answer as option (i + k) mod options, so every answer letter is used equally
    often (±1) by each needle and so by the dataset; the other options' order is drawn per cell."""
    cells = []
    for a, length in enumerate(c.lengths):
        for b, depth in enumerate(c.depths):
            for i, n in enumerate(needles):
                rng = cell_rng(c.seed, length, depth, i)
                order = option_order(n.answer, len(n.options), (i + a * len(c.depths) + b) % len(n.options), rng)
                cells.append(make_cell(length, depth, n.id, n.answer, [d.lure for d in n.distractors],
                                       c.distractor_period, c.distractor_mode, rng, order))  # fmt: skip
    return cells


def _materialize(tmp: Path, progress: Progress | None) -> None:
    dataset = Dataset(tmp)
    out = tmp / "cells"
    out.mkdir()
    questions = []
    for i, cell in enumerate(dataset.cells):
        write_mp4(out / f"{cell.id}.mp4", (px for _, px in dataset.frames(cell)), dataset.options["fps"])
        n = dataset.needle(cell)
        questions.append(
            dict(
                cell=cell.id,
                video=f"{cell.id}.mp4",
                question=n.question,
                options=n.options,
                answer=n.options[n.answer],
                needle_index=cell.needle_index,
                distractor_indices=cell.as_json()["distractor_indices"],
                distractor_lures=[n.options[i.answer] if i.answer >= 0 else None
                                  for i in cell.insertions if i.kind == "distractor"],
                decoy_indices=cell.as_json()["decoy_indices"],
            )
        )
        if progress:
            progress("materialize", i + 1, len(dataset.cells))
    (out / "questions.jsonl").write_text("".join(json.dumps(q, sort_keys=True) + "\n" for q in questions))


def _same_dataset(out: Path, config: GenerateConfig) -> bool:
    try:
        return json.loads((out / MANIFEST).read_text())["options"] == json.loads(json.dumps(config.as_json()))
    except (OSError, ValueError, KeyError):
        return False


def _remove_orphans(out: Path) -> None:
    """Delete the temporary dirs that killed runs of generate left beside `out` (their process
    is gone); a live process's temporary dir is left alone."""
    for tmp in out.parent.glob(f".{glob.escape(out.name)}.tmp-*"):
        pid = tmp.name[len(out.name) + 6 :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def generate(out: str | Path, config: GenerateConfig, force: bool = False, progress: Progress | None = None) -> Path:
    """Write the dataset for `config` to `out`; returns its path.

    If `out` already holds a dataset made with the same options, nothing is done. Another niah
    dataset at `out` is refused unless `force` (then replaced once the new one is complete);
    anything else that is not an empty dir is always refused: --force never deletes a user's files.
    One process at a time per `out`: it holds an flock on the sibling file `.NAME.lock` (removed
    when done; the OS releases the lock even after kill -9); a second is refused in one line.
    """
    out = Path(os.path.realpath(out))  # a symlinked --out: the dataset goes where the link points
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NiahError(f"cannot write to '{out.parent}': {err.strerror}") from None
    with transient_lock(out.parent / f".{out.name}.lock", f"'{out}' is being generated by another niah process: "
                        "wait for it to finish, or choose another --out"):  # fmt: skip
        return _generate_locked(out, config, force, progress)


def _generate_locked(out: Path, config: GenerateConfig, force: bool, progress: Progress | None) -> Path:
    if out.exists():
        if _same_dataset(out, config) and not force:
            return out
        empty = out.is_dir() and not any(out.iterdir())
        if not empty and not (out / MANIFEST).is_file():
            raise NiahError(f"'{out}' exists and is not a niah dataset (no {MANIFEST}): choose another --out; "
                            "--force replaces only a dataset")  # fmt: skip
        if not empty and not force:
            raise NiahError(f"'{out}' holds another niah dataset: choose another --out or pass --force to replace it")
    try:
        _remove_orphans(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; a dataset follows the user's umask
    except OSError as err:
        raise NiahError(f"cannot write to '{out.parent}': {err.strerror}") from None
    try:
        _generate_into(tmp, config, progress)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    except OSError as err:
        if err.errno not in FULL:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        written = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()) / 2**20
        shutil.rmtree(tmp, ignore_errors=True)
        raise NiahError(f"no space left writing dataset '{out}': it needs more than the {written:,.0f} MB written "
                        f"when the disk filled{disk_hint(err, out.parent)}") from None  # fmt: skip
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _generate_into(tmp: Path, c: GenerateConfig, progress: Progress | None) -> None:
    items = None
    if c.needle_file and (path := vruler_file(c.needle_file)):
        items = read_items(path, load_records(path))
        needles = item_needles(items, c.width, c.height)
        warnings.warn(NiahWarning(f"{path.name}: V-RULER's own evaluation puts these images at linspace(0, frames - 1, "
                                  "k) whatever the depth, so its depth rows are one input; here depth moves them "
                                  "(the group's place): compare with V-RULER's heatmaps by length only"),
                      stacklevel=2)  # fmt: skip
    elif c.needle_file:
        needles = load_needle_file(c.needle_file, c.width, c.height)
    else:
        needles = builtin_needles(c.needles, c.seed, c.width, c.height, c.families or None, c.distractor_kind)
    count = max(c.lengths)
    spec = SourceSpec(c.haystack, c.source, c.width, c.height, c.fps, c.seed, c.loop, c.allow_truncated)
    frames = prefetch(HAYSTACK_SOURCES[c.haystack](spec, count))
    with Mp4Writer(tmp / HAYSTACK, c.width, c.height, c.fps) as writer:
        for frame in frames:
            writer.write(frame)
            if progress and (writer.count % 50 == 0 or writer.count == count):
                progress("haystack", writer.count, count)
    write_needle_set(tmp / NEEDLES_DIR, needles, same_key="multi-key" in c.tasks or items is not None)
    cells = [] if items is not None else grid_cells(c, needles)
    (tmp / CELLS).write_text("".join(json.dumps(cell.as_json(), sort_keys=True) + "\n" for cell in cells))
    multi = [t for t in c.tasks if t in MULTI_TASKS] if items is None else []
    records = [NeedleRecord.from_json(json.loads(line))
               for line in (tmp / NEEDLES_DIR / "needles.jsonl").read_text().splitlines()] if multi else []  # fmt: skip
    task_cells = [cell for t in multi
                  for cell in multi_cells(t, c.seed, c.lengths, c.depths, records, c.distractor_period)]  # fmt: skip
    if items is not None:
        task_cells = item_cells(c.tasks[0], items, c.lengths, c.depths)
    if task_cells:
        (tmp / TASK_CELLS).write_text("".join(json.dumps(cell.as_json(), sort_keys=True) + "\n" for cell in task_cells))
    if c.materialize:
        (tmp / MANIFEST).write_text(json.dumps({"options": c.as_json()}))  # lets Dataset open the dir
        _materialize(tmp, progress)
    files = sorted(p for p in tmp.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {
        "format": 1,
        "preset": c.preset,
        "options": c.as_json(),
        "versions": versions(numpy="numpy", opencv="cv2", av="av"),
        "counts": {"haystack_frames": count, "needles": len(needles), "cells": len(cells),
                   **({"task_cells": len(task_cells)} if task_cells else {})},
        "axes": {t: MULTI_TASKS[t].axis if t in MULTI_TASKS else DEPTH_AXIS for t in c.tasks},
        "files": {str(p.relative_to(tmp)): sha256_file(p) for p in files},
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
