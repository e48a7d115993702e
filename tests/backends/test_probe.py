"""The probe's shortcut (complex pairs) equals the real rotary path of niah.rope, and behaves."""

from __future__ import annotations

import pytest
import torch

from niah.backends.probe import ProbeBackend
from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.rope import VARIANTS, apply_rotary, resolve_variant
from niah.sweep.plan import make_plan
from niah.sweep.tasks import TASKS

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
        uq = probe._query(ds, sample)
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


@pytest.mark.parametrize("kind", ["near", "scene"])
def test_query_from_the_find_clause_matches_the_needle_better_than_the_haystack(tmp_path, kind):
    """The query sees only the key region: it beats every haystack frame, and every scene distractor
    (no key object); a near distractor (same background, key in another colour) may tie with it."""
    ds = Dataset(generate(tmp_path / kind, resolve_config("demo", **SMALL, distractor_kind=kind)))
    probe = ProbeBackend()
    for sample in make_plan(ds, [TASKS["v-niah-d"]], [resolve_variant("vanilla")], lengths=[8]):
        uq = probe._query(ds, sample)
        refs = sample.frames(ds)
        probe._load_content(ds, refs)

        def match(ref, uq=uq):
            return float((uq[:, None, :] * probe._content[ref.key].conj()).real.sum(-1).amax(1).mean())

        needle = match(next(r for r in refs if r.kind == "needle"))
        assert all(needle > match(r) for r in refs if r.kind == "haystack")
        if kind == "scene":
            assert all(needle > match(r) for r in refs if r.kind == "distractor")


def test_short_haystacks_are_solved_by_every_variant_without_distractors(small_dataset):
    ds = Dataset(small_dataset)
    probe = ProbeBackend()
    variants = [resolve_variant(n) for n in VARIANTS if not resolve_variant(n).per_head]  # vrope's four rows too
    probe.check_variants(variants)
    results = list(probe.run(make_plan(ds, [TASKS["v-niah"]], variants), ds))
    assert {r.sample.variant.name for r in results} >= {"vrope", "circlerope", "v2pe", "mmrope"}
    assert all(r.correct for r in results)
    assert {r.scores["retrieved_kind"] for r in results} == {"needle"}
