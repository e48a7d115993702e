"""Built-in needles are well posed: only the needle satisfies its find clause, every distractor shows a lure.

The checks read the renderers' own records of what they drew (niah.data.draw.Drawn), not pixels,
except the pixel test of near distractors.
"""

from __future__ import annotations

from collections import Counter
from itertools import product

import numpy as np
import pytest

from niah.backends.probe import box_tokens, key_token_mask
from niah.data.dataset import NeedleRecord
from niah.data.draw import KEY_SHAPES
from niah.data.families import DISTRACTOR_KINDS, FAMILIES, KEY_COLOURS, Key, render
from niah.data.needles import LETTERS, balanced_answers, builtin_needles
from niah.data.synthetic import SyntheticHaystack

W, H = 224, 126


def _backgrounds(seed: int):
    """Plain seeded backgrounds: background(j) differs per j (the scene distractors' scenes)."""
    rng = np.random.default_rng([seed, 99])
    colours = rng.integers(40, 200, (4, 3))
    return lambda j: np.broadcast_to(colours[j].astype(np.uint8), (H, W, 3)).copy()


@pytest.mark.parametrize("family,kind", list(product(FAMILIES, DISTRACTOR_KINDS)))
def test_only_the_needle_satisfies_its_find_clause_and_every_lure_is_a_wrong_option(family, kind):
    for seed in range(200):
        rng = np.random.default_rng([seed, 1])
        answer = seed % 4
        r = render(FAMILIES[family], rng, answer, kind, _backgrounds(seed), W, H)
        assert len(r.options) == 4 and len(set(r.options)) == 4
        assert r.answer == answer
        assert r.key.satisfied_by(r.drawn), (family, kind, seed)
        assert sum(r.key.matches(d) for d in r.drawn) == 1  # exactly one key object in the needle
        for drawn in r.distractor_drawn:
            assert not r.key.satisfied_by(drawn), (family, kind, seed, drawn)
        assert sorted(r.lures) == sorted(set(range(4)) - {answer})  # each wrong option shown once
        if FAMILIES[family].value is not None:  # the value each image shows is its option
            shown = [d.shows or d.kind if family == "shape" else d.shows or d.colour for d in
                     (r.drawn[1], *(x[1] for x in r.distractor_drawn))]  # fmt: skip
            assert shown == [r.options[answer], *(r.options[j] for j in r.lures)], (family, seed)


def test_haystack_frames_never_show_a_key_object():
    drawn = []
    for seed in range(5):
        haystack = SyntheticHaystack(seed, 112, 56)
        for scene in range(40):
            next(haystack.scene(scene, drawn))
    kinds = Counter(d.kind for d in drawn)
    assert set(kinds) == {"circle", "box"} and min(kinds.values()) > 100
    keys = [Key(shape, colour) for shape, colour in product(KEY_SHAPES, KEY_COLOURS)]
    assert not any(key.satisfied_by([d]) for key in keys for d in drawn)
    assert not set(KEY_SHAPES) & set(kinds)


def test_recording_what_the_haystack_draws_changes_no_pixel():
    a = next(SyntheticHaystack(3, 112, 56).scene(7))
    b = next(SyntheticHaystack(3, 112, 56).scene(7, []))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_near_distractor_differs_from_its_needle_only_inside_key_and_value_regions(family):
    for seed in range(20):
        rng = np.random.default_rng([seed, 2])
        background = SyntheticHaystack(seed, W, H).scene(1000)
        frame = next(background)
        r = render(FAMILIES[family], rng, seed % 4, "near", lambda j, f=frame: f, W, H)
        for image, drawn in zip(r.distractors, r.distractor_drawn, strict=True):
            allowed = np.zeros((H, W), bool)
            for d in [*r.drawn, *drawn]:
                x0, y0, x1, y1 = d.box
                allowed[y0:y1, x0:x1] = True
            changed = np.any(image != r.image, axis=-1)
            assert changed.any()
            assert not (changed & ~allowed).any(), (family, seed, np.argwhere(changed & ~allowed)[:3])


def test_answer_letters_are_balanced_and_options_shuffled_by_seed():
    for count in (4, 7, 12, 25):
        counts = Counter(balanced_answers(count, np.random.default_rng(count)))
        assert max(counts.values()) - min(counts.values(), default=0) <= 1 and len(counts) == min(4, count)
    needles = builtin_needles(8, seed=0, width=W, height=H)
    assert Counter(LETTERS[n.answer] for n in needles) == {"A": 2, "B": 2, "C": 2, "D": 2}
    other = builtin_needles(8, seed=1, width=W, height=H)
    assert [n.options for n in needles] != [n.options for n in other]
    for n in needles:
        assert n.question.startswith("Find the frame with ") and n.question.endswith("?")
        assert all(d.satisfies_find is False and d.lure != n.answer for d in n.distractors)


def test_probe_query_tokens_cover_the_key_and_never_the_value():
    for n in builtin_needles(len(FAMILIES), seed=2, width=448, height=252):
        record = NeedleRecord(n.id, n.family, n.find, n.ask, n.question, n.options, n.answer, "", n.key_box,
                              n.value_box, [])  # fmt: skip
        mask = key_token_mask(record, (448, 252), (9, 16))
        assert mask.any() and (mask <= box_tokens(n.key_box, (448, 252), (9, 16))).all()
        if n.value_box is not None:
            assert not (mask & box_tokens(n.value_box, (448, 252), (9, 16))).any(), n.id
