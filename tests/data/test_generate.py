"""The dataset generator: reproducibility, insertion correctness, distractors, needle statistics."""

from __future__ import annotations

import json
from collections import Counter

import cv2
import numpy as np
import pytest

from niah.data.dataset import Dataset
from niah.data.families import DISTRACTOR_KINDS, NEEDLE_FAMILIES
from niah.data.generate import generate, resolve_config
from niah.data.grid import LOOKALIKE_KINDS, cell_rng, distractor_slots, make_cell, needle_slot
from niah.data.needles import builtin_needles, image_statistics
from niah.data.synthetic import SyntheticHaystack
from niah.data.video_io import read_frames
from niah.errors import NiahError

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
        assert psnr(decoded[cell.needle_index], needle_img) >= 26  # 112x56 frames of crisp objects: H.264 loss
        for ins in cell.insertions:
            if ins.kind in LOOKALIKE_KINDS:
                want = cv2.cvtColor(cv2.imread(str(ds.path / "needles" / needle.distractors[ins.image].image)),
                                    cv2.COLOR_BGR2RGB)  # fmt: skip
                assert psnr(decoded[ins.index], want) >= 26
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
def test_periodic_look_alikes_sit_at_needle_plus_minus_whole_periods(period):
    rng = np.random.default_rng(0)
    for length in range(period, 12 * period, max(1, period // 2)):
        for depth in (0, 10, 33, 50, 90, 100):
            slot = needle_slot(length, depth)
            slots = distractor_slots(length, slot, period, "periodic", rng)
            expected = sorted(k for k in range(slot % period, length + 1, period) if k != slot)
            assert sorted(slots) == expected, (length, depth)
            distances = [abs(k - slot) for k in slots]
            assert distances == sorted(distances)  # nearest first: they take the first round (lures)
            if slot - period >= 0 or slot + period <= length:
                assert min(distances) == period  # a look-alike exactly one period away wherever one fits


def test_grid_mode_keeps_the_absolute_grid():
    slots = distractor_slots(1000, 300, 200, "grid", np.random.default_rng(0))
    assert sorted(slots) == [200, 400, 600, 800] and slots[:2] in ([200, 400], [400, 200])


def videorope_released_mode(query: int, num_frames: int, cycle: int, test_p: float) -> str:
    """Wiselnn570/VideoRoPE@7712ca3 vision_niah_d/eval_vision_niah_interrupt.py lines 430-441, as
    written there (query_frame_idx = int(depth * num_frames)); 'before' inserts the interrupt frame
    before haystack frame query - cycle, 'after' before haystack frame query + cycle."""
    mode = "no"
    if query - cycle <= 0 and query + cycle >= num_frames:
        mode = "no"
    elif query < cycle:
        mode = "after"
    elif query + cycle >= num_frames:  # noqa: SIM114 (the upstream branches, as written)
        mode = "before"
    elif test_p < 0.5:
        mode = "before"
    else:
        mode = "after"
    return mode


def test_single_mode_follows_videoropes_released_rule_on_every_cell_of_the_videorope_preset():
    config = resolve_config("videorope")
    assert config.depths == [0, 20, 40, 60, 80, 100] and config.distractor_mode == "single"
    sides = Counter()
    needles = [f"n{i}" for i in range(config.needles)]
    for length in config.lengths:
        for depth in config.depths:
            for i, needle in enumerate(needles):
                cell = make_cell(length, depth, needle, 0, [1, 2, 3], config.distractor_period, "single",
                                 cell_rng(config.seed, length, depth, i))  # fmt: skip
                query = int(depth / 100 * length)
                assert needle_slot(length, depth) == query
                slots = [ins.slot for ins in cell.insertions if ins.kind != "needle"]
                side = "no" if not slots else "before" if slots[0] < query else "after"
                for test_p in (0.25, 0.75):  # the released rule; where it draws a side, niah draws one too
                    upstream = videorope_released_mode(query, length, config.distractor_period, test_p)
                    if videorope_released_mode(query, length, config.distractor_period, 1 - test_p) == upstream:
                        assert side == upstream, (length, depth)
                if slots:
                    assert slots == [query - 200] if side == "before" else [query + 200]
                sides[side] += 1
    assert sides["before"] and sides["after"] and sides["no"]


@pytest.mark.parametrize("needles", [2, 5, 7])
def test_answer_letters_are_balanced_over_the_cells_of_every_dataset(tmp_path, needles):
    config = resolve_config("demo", **{**SMALL, "needles": needles, "depths": "0:100:20"})
    ds = Dataset(generate(tmp_path / "d", config))
    asked = [ds.needle(c) for c in ds.cells]
    letters = Counter(n.answer for n in asked)
    assert len(letters) == 4 and max(letters.values()) - min(letters.values()) <= 1, letters
    for cell, shown in zip(ds.cells, asked, strict=True):
        stored = ds.needles[cell.needle]
        assert sorted(shown.options) == sorted(stored.options)
        assert shown.options[shown.answer] == stored.options[stored.answer]  # the same answer, maybe another letter
        for ins in cell.insertions:  # what an insertion records it shows is what its image shows, in the cell's letters
            image_shows = stored.answer if ins.kind == "needle" else stored.distractors[ins.image].lure
            assert shown.options[ins.answer] == stored.options[image_shows]


def test_insertions_are_inserted_not_substituted():
    cell = make_cell(20, 50, "n", 1, [0, 2, 3], period=4, mode="periodic", rng=np.random.default_rng(0))
    assert cell.num_frames == 20 + len(cell.insertions)
    assert needle_slot(20, 50) == 10 and cell.needle_index == 10 + 2  # two look-alikes (slots 2, 6) before it
    indices = [i.index for i in cell.insertions]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)


def test_single_mode_draws_its_side_from_the_cell_seed():
    first = [make_cell(1000, 50, "n", 0, [1, 2, 3], 200, "single", cell_rng(0, 1000, 50, i)) for i in range(40)]
    again = [make_cell(1000, 50, "n", 0, [1, 2, 3], 200, "single", cell_rng(0, 1000, 50, i)) for i in range(40)]
    assert first == again
    assert len({c.insertions[0].slot for c in first}) == 2  # both sides occur


def test_needles_are_not_outliers_by_brightness_colourfulness_or_sharpness():
    stats = np.array([image_statistics(f) for f in SyntheticHaystack(0, 224, 126).frames(600)])
    lo, hi = np.percentile(stats, 2, axis=0), np.percentile(stats, 98, axis=0)
    for kind in DISTRACTOR_KINDS:
        for n in builtin_needles(2 * len(NEEDLE_FAMILIES), seed=0, width=224, height=126, kind=kind):
            for img in [n.image, *(d.image for d in n.distractors)]:
                for name, value, low, high in zip(("brightness", "colourfulness", "sharpness"), image_statistics(img),
                                                  lo, hi, strict=True):  # fmt: skip
                    assert low <= value <= high, (n.id, kind, name, value, low, high)


def test_a_second_generate_on_the_same_out_is_refused_while_the_first_holds_it(tmp_path):
    """Two generates with different options on one --out both reported success, the later silently
    replacing the earlier. The first holds a lock the second sees (here held by the test itself)."""
    from niah.files import exclusive_lock

    held = exclusive_lock(tmp_path / ".d.lock", "busy")
    try:
        with pytest.raises(NiahError, match="is being generated by another niah process"):
            generate(tmp_path / "d", resolve_config("demo", **SMALL))
        assert not (tmp_path / "d").exists()
    finally:
        held.close()
    assert (generate(tmp_path / "d", resolve_config("demo", **SMALL)) / "manifest.json").is_file()


def test_an_out_that_is_a_symlink_gets_the_dataset_where_it_points(tmp_path):
    """It crashed after generating (rmtree on a symlink) and wrote nothing."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    generate(tmp_path / "link", resolve_config("demo", **SMALL))
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real" / "manifest.json").is_file()
    assert Dataset(tmp_path / "link").cells
