"""The dataset generator: reproducibility, insertion correctness, distractors, needle statistics."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from niah.data.dataset import Dataset
from niah.data.families import FAMILIES
from niah.data.generate import generate, resolve_config
from niah.data.grid import distractor_slots, make_cell, needle_slot
from niah.data.needles import builtin_needles, image_statistics
from niah.data.synthetic import SyntheticHaystack
from niah.data.video_io import read_frames

SMALL = dict(width=112, height=56, lengths="12,24", depths="0,50,100", needles=2, distractor_period=5)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_same_seed_rebuilds_bit_for_bit_and_other_seed_differs(tmp_path):
    a = generate(tmp_path / "a", resolve_config("demo", **SMALL))
    b = generate(tmp_path / "b", resolve_config("demo", **SMALL))
    c = generate(tmp_path / "c", resolve_config("demo", **SMALL, seed=1))
    ma, mb, mc = (json.loads((p / "manifest.json").read_text()) for p in (a, b, c))
    assert ma["files"] == mb["files"]
    assert (a / "cells.jsonl").read_bytes() == (b / "cells.jsonl").read_bytes()
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    assert ma["files"]["haystack.mp4"] != mc["files"]["haystack.mp4"]
    assert set(ma["files"]) >= {"haystack.mp4", "cells.jsonl", "needles/needles.jsonl"}


def test_rerun_reuses_an_identical_dataset(tmp_path):
    out = generate(tmp_path / "d", resolve_config("demo", **SMALL))
    mtime = (out / "haystack.mp4").stat().st_mtime_ns
    generate(tmp_path / "d", resolve_config("demo", **SMALL))
    assert (out / "haystack.mp4").stat().st_mtime_ns == mtime


def test_materialised_cells_hold_needle_and_distractors_at_their_indices(tmp_path):
    ds = Dataset(generate(tmp_path / "m", resolve_config("demo", **SMALL, materialize=True)))
    questions = [json.loads(x) for x in (ds.path / "cells" / "questions.jsonl").read_text().splitlines()]
    assert len(questions) == len(ds.cells)
    for cell in ds.cells:
        decoded = list(read_frames(ds.path / "cells" / f"{cell.id}.mp4"))
        assert len(decoded) == cell.num_frames
        needle = ds.needles[cell.needle]
        needle_img = ds.image(ds.sequence(cell)[cell.needle_index])
        assert psnr(decoded[cell.needle_index], needle_img) >= 30
        for ins in cell.insertions:
            if ins.kind == "distractor":
                want = cv2.cvtColor(cv2.imread(str(ds.path / "needles" / needle.distractors[ins.image].image)),
                                    cv2.COLOR_BGR2RGB)  # fmt: skip
                assert psnr(decoded[ins.index], want) >= 30
                assert psnr(decoded[ins.index], want) > psnr(decoded[ins.index], needle_img)


def test_cell_sequence_decodes_each_haystack_frame_once_in_order(tmp_path):
    ds = Dataset(generate(tmp_path / "s", resolve_config("demo", **SMALL)))
    haystack = list(ds.haystack_frames())
    cell = max(ds.cells, key=lambda c: c.length)
    refs = []
    for ref, px in ds.frames(cell):
        refs.append(ref)
        if ref.kind == "haystack":
            assert np.array_equal(px, haystack[ref.index])
    assert refs == ds.sequence(cell)
    assert [r.index for r in refs if r.kind == "haystack"] == list(range(cell.length))
    assert refs[cell.needle_index].kind == "needle"


@pytest.mark.parametrize("period", [5, 50, 200])
def test_periodic_distractor_count_grows_with_length_as_period_predicts(period):
    previous = -1
    for length in range(period, 12 * period, max(1, period // 2)):
        slot = needle_slot(length, 50)
        slots = distractor_slots(length, slot, period, "periodic")
        expected = (length - 1) // period - (1 if slot % period == 0 and 0 < slot < length else 0)
        assert len(slots) == expected and slot not in slots
        assert all(s % period == 0 and 0 < s < length for s in slots)
        assert len(slots) >= previous - 1
        previous = len(slots)
    assert len(distractor_slots(10 * period, 0, period, "periodic")) == 9


def test_single_mode_puts_one_distractor_period_frames_from_the_needle():
    assert distractor_slots(1000, 300, 200, "single") == [500]
    assert distractor_slots(1000, 900, 200, "single") == [700]


def test_insertions_are_inserted_not_substituted():
    cell = make_cell(20, 50, "n", 1, [0, 2, 3], period=4, mode="periodic")
    assert cell.num_frames == 20 + len(cell.insertions)
    assert needle_slot(20, 50) == 10 and cell.needle_index == 10 + 2  # two distractors (slots 4, 8) before it
    indices = [i.index for i in cell.insertions]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)


def test_needles_are_not_outliers_by_brightness_or_colourfulness():
    stats = np.array([image_statistics(f) for f in SyntheticHaystack(0, 224, 126).frames(600)])
    lo, hi = np.percentile(stats, 2, axis=0), np.percentile(stats, 98, axis=0)
    needles = builtin_needles(2 * len(FAMILIES), seed=0, width=224, height=126)
    for n in needles:
        for img in [n.image, *(d.image for d in n.distractors)]:
            b, c = image_statistics(img)
            assert lo[0] <= b <= hi[0], (n.id, "brightness", b, lo[0], hi[0])
            assert lo[1] <= c <= hi[1], (n.id, "colourfulness", c, lo[1], hi[1])
