"""`niah report`: one self-contained HTML file of runs that a person can click through offline.

The file holds, inline (no server, no network): the summary table, one heatmap per (model,
variant, task) drawn as a table of coloured cells on the plots' own 0→1 red–amber–green scale,
and a JSON block with every sample and small JPEG thumbnails. Clicking a cell lists its samples:
the question and options, the answer, the prediction and per-option scores, whether a
distractor lured it, the needle and each distractor, the haystack frames on both sides of the
needle, and a strip of the haystack marking where the needle (green) and distractors (red) sit;
for runs recorded with --attention, a second strip shaded by the attention each frame received
at the answer, and its mass on needle, look-alikes and text.

Size: thumbnails are THUMB_WIDTH px wide JPEGs, one per needle, distractor and haystack frame
used (shared by every sample that shows them, never one per sample), so a run of 15 lengths × 6
depths × 5 needles × 8 variants stays a few MB; the page builds a cell's list only when it is
clicked, so it opens at once whatever the run size. Imported runs (published cells) have no
samples: their cells say so.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from niah.data.grid import LOOKALIKE_KINDS
from niah.errors import NiahError
from niah.files import atomic_write
from niah.plot.heatmaps import ACCURACY_CMAP, scores_label, short_variant
from niah.plot.results import Grid, axes_of, choose_metric, expand_run_dirs, grid, groups, load_runs
from niah.plot.tables import table_rows
from niah.sweep import outcomes as oc
from niah.sweep.attention import GROUPS, layer_mean
from niah.sweep.store import read_run_config

THUMB_WIDTH = 112  # pixels
ASSETS = Path(__file__).with_name("report_assets")


def _colour(value: float) -> str:
    if value != value:  # NaN: no samples
        return "#eeeeee"
    r, g, b, _ = ACCURACY_CMAP(float(value))
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _jpeg(img: np.ndarray) -> str:
    import cv2

    h, w = img.shape[:2]
    small = cv2.resize(img, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 70])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode() if ok else ""


def _datasets(run_dirs: Sequence[Path]) -> dict[str, Any]:
    """The datasets of the runs that can still be opened: manifest hash → Dataset."""
    from niah.data.dataset import Dataset

    found: dict[str, Any] = {}
    for run in run_dirs:
        config = read_run_config(run)
        digest, path = config.get("dataset_manifest_sha256"), config.get("dataset")
        if digest and path and digest not in found:
            try:
                ds = Dataset(path)
            except NiahError:
                continue
            if ds.manifest_hash == digest:
                found[digest] = ds
    return found


def _thumbnails(ds, samples: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Thumbnails (id → data URL) and, per cell id, what the drill-down shows of it."""
    from niah.data.dataset import FrameRef

    cells = {c.id: c for c in ds.all_cells}
    thumbs: dict[str, str] = {}
    info: dict[str, dict[str, Any]] = {}
    wanted: set[int] = set()
    for s in samples:
        cell = cells.get(s.get("cell"))
        if cell is None or cell.id in info:
            continue
        # a retrieval cell asks its needle's question (options in the cell's order); a multi-needle one its own
        asked = cell.asked or ds.needle(cell)
        question, options, answer = asked.question, list(asked.options), asked.answer
        needles = [i for i in cell.insertions if i.kind == "needle"]
        first = next(iter(needles or cell.insertions), None)  # none: a count of 0 inserts nothing
        slot = first.slot if first else None  # the (first) needle sits before haystack frame `slot`
        before = slot - 1 if slot else None
        after = slot if slot is not None and slot < cell.length else None
        wanted |= {k for k in (before, after) if k is not None}
        looks = [i for i in cell.insertions if i.kind in LOOKALIKE_KINDS]  # what this cell shows, nearest first
        refs = [FrameRef("needle", i.image, i.needle or cell.needle) for i in needles]
        refs += [FrameRef("distractor", i.image, i.needle or cell.needle) for i in looks]
        for ref in refs:
            key = f"{ref.kind}:{ref.needle}:{ref.index}"
            if key not in thumbs:
                thumbs[key] = _jpeg(ds.image(ref))
        kinds = {i.index: i.kind for i in cell.insertions}
        info[cell.id] = {
            "needle": cell.needle, "question": question, "options": options, "answer": answer,
            "lures": sorted({i.answer for i in looks if i.kind == "distractor" and i.answer >= 0}),
            "length": cell.length,
            "before": None if before is None else f"haystack:{before}",
            "after": None if after is None else f"haystack:{after}",
            "sequence": "".join(STRIP.get(kinds.get(k, "haystack"), ".") for k in range(cell.num_frames)),
            "lookalikes": [{"image": f"distractor:{i.needle or cell.needle}:{i.image}", "shows": i.answer,
                            "decoy": i.kind == "decoy"} for i in sorted(looks, key=lambda i: abs(i.slot - slot))],
            "image": f"{refs[0].kind}:{refs[0].needle}:{refs[0].index}" if refs else None,
            "needles": [f"needle:{i.needle or cell.needle}:{i.image}" for i in needles],
        }  # fmt: skip
    if wanted:
        for k, frame in enumerate(ds.haystack_frames(max(wanted) + 1)):
            if k in wanted:
                thumbs[f"haystack:{k}"] = _jpeg(frame)
    return thumbs, info


STRIP = {"needle": "N", "distractor": "D", "decoy": "Y"}  # a cell's frames in the drill-down strip


def _attention(record: dict[str, Any]) -> dict[str, Any]:
    """What a sample's card shows of its attention at the answer (niah.sweep.attention): the mass per
    frame (its strip's shading), per group, and where the heaviest frame was."""
    near = record.get("nearest_lookalike")
    return {"frames": [round(x, 4) for x in record["frame_mass"]], "top": record["top"],
            "groups": {g: round(layer_mean(record, g), 4) for g in GROUPS},
            "nearest": None if near is None else round(float(np.mean(near)), 4)}  # fmt: skip


def script_json(text: str) -> str:
    """JSON text safe inside <script type="application/json">: every <, > and & as a JSON unicode
    escape, so no user text (`</script>`, `<!--<script>`) can end or re-enter the element; JSON.parse
    reads the same value."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _heatmap_html(name: str, g: Grid, gid: int) -> str:
    rows = ["<tr><th>depth \\ frames</th>" + "".join(f"<th>{n}</th>" for n in g.lengths) + "</tr>"]
    for i, d in enumerate(g.depths):
        cells = []
        for j, n in enumerate(g.lengths):
            acc, count = g.accuracy[i, j], int(g.samples[i, j])
            if count == 0:
                cells.append('<td class="empty"></td>')
                continue
            bounds = "no interval" if g.low is None else f"95 % interval [{g.low[i, j]:.2f}, {g.high[i, j]:.2f}]"
            title = f"{n} frames, depth {d}%: {acc:.2f} over {count} {'cells' if g.imported else 'samples'}, {bounds}"
            cells.append(f'<td class="cell" style="background:{_colour(acc)}" data-k="{gid}|{n}|{d}" '
                         f'title="{html.escape(title)}">{acc:.2f}</td>')  # fmt: skip
        rows.append(f"<tr><th>{d}</th>{''.join(cells)}</tr>")
    imported = " (imported)" if g.imported else ""
    return (f'<div class="heatmap"><h3>{html.escape(name)}{imported}</h3><p class="score">{scores_label(g)}'
            f'</p><table>{"".join(rows)}</table></div>')  # fmt: skip


def build_report(run_dirs: Sequence[str | Path], out: str | Path, metric: str | None = None) -> Path:
    """Write the report of `run_dirs` to `out` (an .html file) in one step, every heatmap and
    sample in one metric (`metric`, or `choose_metric`'s default); returns its path."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise NiahError(f"report '{out}' must be an .html file")
    records, order = load_runs(run_dirs)
    metric = choose_metric(records, metric)
    by_group = groups(records)
    datasets = _datasets(expand_run_dirs(run_dirs))
    samples: list[dict[str, Any]] = []
    index: dict[str, list[int]] = defaultdict(list)
    sections: list[str] = []
    thumbs: dict[str, str] = {}
    cells: dict[str, dict[str, Any]] = {}
    ordered = sorted(by_group.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]) if kv[0][1] in order else 0,
                                                       kv[0][2]))  # fmt: skip
    for gid, ((model, variant, task), rs) in enumerate(ordered):
        g = grid(rs, *axes_of(rs), metric)  # each heatmap on its own axes: imported runs span other lengths
        sections.append(_heatmap_html(f"{model} · {short_variant(variant)} · {task}", g, gid))
        for r in rs:
            index[f"{gid}|{r['length']}|{r['depth']}"].append(len(samples))
            outcome = oc.outcomes(r).get(metric, {})
            samples.append({k: r.get(k) for k in ("key", "needle", "cell", "answer", "scores", "insert_index",
                                                  "frames", "imported", "metrics")}
                           | {"task": task, "metric": metric, "prediction": outcome.get("prediction"),
                              "correct": oc.value(r, metric), "lured": outcome.get("lured")}
                           | ({"attention": _attention(r["attention"])} if "attention" in r else {}))  # fmt: skip
    with_cells = [s for s in samples if s.get("cell")]  # niah's own samples (imported cells have none)
    for ds in datasets.values():
        t, c = _thumbnails(ds, with_cells)
        thumbs |= t
        cells |= c
    header, body = table_rows({k: grid(v, *axes_of(v), metric) for k, v in by_group.items()})
    table = ("<table class='summary'><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
             + "</table>")  # fmt: skip
    missing = "" if datasets or not any(s.get("cell") for s in samples) else (
        "<p class='note'>The runs' dataset dir is not where run.json says (or has changed): samples are listed "
        "without thumbnails.</p>")  # fmt: skip
    data = json.dumps({"samples": samples, "index": index, "thumbs": thumbs, "cells": cells}, separators=(",", ":"))
    page = (ASSETS / "report.html").read_text()
    page = page.replace("/*STYLE*/", (ASSETS / "report.css").read_text())
    page = page.replace("/*SCRIPT*/", (ASSETS / "report.js").read_text())
    page = page.replace("<!--RUNS-->", html.escape(", ".join(str(p) for p in run_dirs)))
    page = page.replace("<!--SUMMARY-->", table + missing).replace("<!--HEATMAPS-->", "".join(sections))
    page = page.replace("/*DATA*/", script_json(data))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, page)
    except OSError as err:
        raise NiahError(f"cannot write '{out}': {err.strerror}") from None
    return out
