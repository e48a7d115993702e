"""Built-in needles are well posed: only the needle satisfies its find clause, every distractor shows a lure.

The checks read the renderers' own records of what they drew (niah.data.draw.Drawn), not pixels,
except the pixel test of near distractors.
"""

from __future__ import annotations

from collections import Counter
from itertools import product

import numpy as np
import pytest

from niah.backends.probe import named_key
from niah.data.draw import KEY_SHAPES, VALUE_SHAPES
from niah.data.families import DISTRACTOR_KINDS, KEY_COLOURS, LOOKALIKES, NEEDLE_FAMILIES, Key, render
from niah.data.grid import make_cell
from niah.data.needles import LETTERS, balanced_answers, builtin_needles
from niah.data.synthetic import FOCUS_BLUR, SyntheticHaystack

W, H = 224, 126


def _backgrounds(seed: int):
    """Plain seeded backgrounds: background(j) differs per j (the scene look-alikes' scenes)."""
    rng = np.random.default_rng([seed, 99])
    colours = rng.integers(40, 200, (1 + LOOKALIKES, 3))
    return lambda j: np.broadcast_to(colours[j].astype(np.uint8), (H, W, 3)).copy()


def _spread(values: list[str], universe: int) -> int:
    """max − min of how often each of `universe` possible values occurs in `values` (absent: 0)."""
    counts = Counter(values)
    return max(counts.values()) - (min(counts.values()) if len(counts) == universe else 0)


@pytest.mark.parametrize("family,kind", list(product(NEEDLE_FAMILIES, DISTRACTOR_KINDS)))
def test_only_the_needle_satisfies_its_find_clause_and_look_alikes_balance_every_attribute(family, kind):
    spec = NEEDLE_FAMILIES[family]
    for seed in range(200):
        rng = np.random.default_rng([seed, 1])
        answer = seed % 4
        r = render(spec, rng, answer, kind, _backgrounds(seed), W, H)
        assert len(r.options) == 4 and len(set(r.options)) == 4
        assert r.answer == answer and len(r.distractors) == LOOKALIKES
        assert r.key.satisfied_by(r.drawn), (family, kind, seed)
        assert sum(r.key.matches(d) for d in r.drawn) == 1  # exactly one key object in the needle
        for drawn in r.distractor_drawn:
            assert not r.key.satisfied_by(drawn), (family, kind, seed, drawn)
        assert sorted(r.shows[:3]) == sorted(set(range(4)) - {answer})  # the first 3 are the 3 lures
        keys = [r.drawn[0], *(d[0] for d in r.distractor_drawn)]  # the key-like object of every image
        assert not {k.kind for k in keys} & set(VALUE_SHAPES)  # no stand-in is ever an option's shape
        values = [answer, *r.shows]
        for n in range(1, len(values) + 1):  # every prefix, needle included: balanced to within 1
            assert _spread([str(v) for v in values[:n]], 4) <= 1, (family, kind, seed, values[:n])
            assert _spread([k.colour for k in keys[:n]], 4) <= 1, (family, kind, seed, n)
            assert _spread([k.kind for k in keys[:n]], 4) <= 1, (family, kind, seed, n)
        if spec.value is not None:  # the value each image shows is its option
            shown = [d.shows or d.kind if family == "shape" else d.shows or d.colour for d in
                     (r.drawn[1], *(x[1] for x in r.distractor_drawn))]  # fmt: skip
            assert shown == [r.options[v] for v in values], (family, seed)
        if family == "colour":  # never a square in its own key's colour, needle or look-alike
            assert all(k.colour != r.options[v] for k, v in zip(keys, values, strict=True)), (seed, values)
        if family == "shape":
            assert not set(r.options) & {k.kind for k in keys}


@pytest.mark.parametrize("kind", DISTRACTOR_KINDS)
def test_cells_show_every_option_and_key_colour_equally_often(kind):
    needles = builtin_needles(8, seed=3, width=112, height=56, kind=kind)
    for needle in needles:
        colours = [needle.key.split()[0], *(d.key.split()[0] for d in needle.distractors)]
        for length, depth, period in product((10, 40, 90), (0, 30, 100), (3, 7)):
            cell = make_cell(length, depth, needle.id, needle.answer, [d.lure for d in needle.distractors], period,
                             "periodic", np.random.default_rng([length, depth, period]))  # fmt: skip
            shown = [i.answer for i in cell.insertions]
            look = [colours[0 if i.kind == "needle" else 1 + i.image] for i in cell.insertions]
            assert _spread([str(v) for v in shown], 4) <= 1 and _spread(look, 4) <= 1, (cell.id, shown, look)
            for i in cell.insertions:  # decoys are the look-alikes that show the answer, and only they
                assert (i.kind == "decoy") == (i.kind != "needle" and i.answer == needle.answer)
                assert i.kind == "needle" or needle.distractors[i.image].decoy == (i.kind == "decoy")


def test_near_and_scene_datasets_of_one_seed_hold_the_same_needles():
    near, scene = (builtin_needles(12, seed=5, width=112, height=56, kind=kind) for kind in DISTRACTOR_KINDS)
    for a, b in zip(near, scene, strict=True):
        assert (a.id, a.find, a.options, a.answer, a.key) == (b.id, b.find, b.options, b.answer, b.key)
        assert np.array_equal(a.image, b.image)
        assert [d.lure for d in a.distractors] == [d.lure for d in b.distractors]
        assert [d.key for d in a.distractors] == [d.key for d in b.distractors]


def test_haystack_frames_never_show_a_key_object():
    drawn = []
    for seed in range(5):
        haystack = SyntheticHaystack(seed, 112, 56)
        for scene in range(40):
            next(haystack.scene(scene, drawn))
    kinds = Counter(d.kind for d in drawn)
    assert set(kinds) == {"circle", "box", "bar", "ellipse"} and min(kinds.values()) > 100
    keys = [Key(shape, colour) for shape, colour in product(KEY_SHAPES, KEY_COLOURS)]
    assert not any(key.satisfied_by([d]) for key in keys for d in drawn)
    assert not set(KEY_SHAPES) & set(kinds)


def test_recording_what_the_haystack_draws_changes_no_pixel():
    a = next(SyntheticHaystack(3, 112, 56).scene(7))
    b = next(SyntheticHaystack(3, 112, 56).scene(7, []))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("family", list(NEEDLE_FAMILIES))
def test_near_distractor_differs_from_its_needle_only_inside_key_and_value_regions(family):
    for seed in range(20):
        rng = np.random.default_rng([seed, 2])
        background = SyntheticHaystack(seed, W, H).scene(1000)
        frame = next(background)
        r = render(NEEDLE_FAMILIES[family], rng, seed % 4, "near", lambda j, f=frame: f, W, H)
        for image, drawn in zip(r.distractors, r.distractor_drawn, strict=True):
            allowed = np.zeros((H, W), bool)
            spread = int(np.ceil(4 * FOCUS_BLUR[1]))  # the camera's Gaussian blur spreads a change (cv2: 4 sigma)
            for d in [*r.drawn, *drawn]:
                x0, y0, x1, y1 = d.box
                allowed[max(0, y0 - spread) : y1 + spread, max(0, x0 - spread) : x1 + spread] = True
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
        assert all(d.satisfies_find is False and (d.lure == n.answer) == d.decoy for d in n.distractors)


def test_the_probe_reads_each_builtin_key_from_the_question_words_alone():
    for n in builtin_needles(4 * len(NEEDLE_FAMILIES), seed=2, width=448, height=252):
        colour, shape = n.key.split()
        assert named_key(n.question) == (shape, colour), n.question
    assert named_key("Which frame shows the clock?") is None  # no colour or shape named: the probe skips it
