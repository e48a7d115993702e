"""The probe's shortcut (complex pairs) equals the real rotary path of niah.rope, and behaves."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from niah.backends.probe import ProbeBackend, key_template, named_key
from niah.data.dataset import Dataset
from niah.data.draw import KEY_SHAPES
from niah.data.families import KEY_COLOURS
from niah.rope import VARIANTS, apply_rotary, resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS, Query

SMALL = dict(width=112, height=56, lengths="8,16", depths="0,50,100", needles=2, distractor_period=4)


def test_complex_scores_equal_apply_rotary_on_real_vectors(small_dataset):
    ds = Dataset(small_dataset)
    probe = ProbeBackend(heads=2)
    for name in ("vanilla", "m-rope", "videorope:delta=1.5", "hope"):
        v = resolve_variant(name)
        sample = make_plan(ds, [TASKS["v-niah-d"]], [v], lengths=[16])[3]
        refs, masses = probe.frame_masses(ds, sample)
        # the same attention, the slow way: real q, k rotated by apply_rotary
        layout = probe.layout(ds, len(refs))
        ids = v.position_ids(layout).double()
        cos, sin = v.rotary_tables(ids, 128, probe.theta)
        uq = probe._query(ds, sample.query)
        energy = probe.amplitude.pow(2)
        q = (probe.amplitude * uq) / (energy * uq.abs().pow(2)).sum(-1, keepdim=True)
        keys = torch.cat([probe._content[r.key] for r in refs], dim=1) * probe.amplitude
        real = lambda z: torch.cat([z.real, z.imag], dim=-1)  # noqa: E731 - pair i = dims (i, i + 64)
        start, stop = 14, ids.shape[1] - 24
        qr, _ = apply_rotary(real(q)[:, None, :], real(q)[:, None, :], cos[-1:], sin[-1:])
        _, kr = apply_rotary(real(keys), real(keys), cos[start:stop], sin[start:stop])
        logits = probe.beta * (qr * kr).sum(-1)  # (heads, tokens)
        slow = torch.softmax(logits, 1).reshape(2, len(refs), -1).sum(-1).sum(0)
        assert torch.allclose(slow, masses, atol=1e-4), name


def test_the_query_is_drawn_from_the_question_words_never_from_the_needle_pixels(small_dataset, monkeypatch):
    """The query is a template of what the find clause names: built with the dataset's needle and
    look-alike images unreadable, and the same for two questions that name the same key."""
    ds = Dataset(small_dataset)
    probe = ProbeBackend()
    sample = make_plan(ds, [TASKS["v-niah-d"]], [resolve_variant("vanilla")])[0]

    def unreadable(ref):
        raise AssertionError(f"the query read {ref.key}")

    monkeypatch.setattr(ds, "image", unreadable)
    uq = probe._query(ds, sample.query)
    shape, colour = named_key(sample.query.question)
    same = replace(sample.query, question=f"Which frame shows the {colour} {shape}? What is beside it?")
    assert torch.equal(probe._query(ds, same), uq)


@pytest.mark.parametrize("shape", KEY_SHAPES)
def test_a_key_template_matches_its_own_colour_best(shape):
    """On a grey frame, the query of 'a red star' matches a red star better than a star of any other
    key colour (what a near look-alike shows)."""
    ds = type("D", (), {"frame_size": (224, 112)})()
    probe = ProbeBackend()
    grid = probe.grid(ds)

    def best_match(uq, colour):
        frame, _ = key_template(shape, colour, ds.frame_size)
        return float((uq[:, None, :] * probe._features(frame, grid).conj()).real.sum(-1).amax(1).mean())

    for colour in KEY_COLOURS:
        question = f"Find the frame with a {colour} {shape}. What is beside it?"
        uq = probe._query(ds, replace(make_query(), question=question))
        assert all(best_match(uq, colour) > best_match(uq, other) for other in KEY_COLOURS if other != colour)


def make_query():
    return Query(frames=(), question="", options=("a", "b"), answer="a", shows=(), lures=None)


def test_every_shared_table_variant_runs_through_the_probe_under_its_own_metric(small_dataset):
    ds = Dataset(small_dataset)
    probe = ProbeBackend()
    variants = [resolve_variant(n) for n in VARIANTS if not resolve_variant(n).per_head]  # vrope's four rows too
    probe.check_variants(variants)
    plan = make_plan(ds, [TASKS["v-niah"]], variants)
    results = list(probe.run(plan, ds))
    assert {r.sample.variant.name for r in results} >= {"vrope", "circlerope", "v2pe", "mmrope"}
    assert sorted(r.sample.key for r in results) == sorted(s.key for s in plan)
    assert {r.metric for r in results} == {"probe"}  # never a paper's metric: the probe is not a model
    for r in results:  # right exactly when the heaviest frame is the needle (v-niah shows no look-alike)
        assert r.correct == (r.scores["retrieved_kind"] == "needle")
        assert r.prediction == (r.sample.query.answer_label if r.correct else "-")
