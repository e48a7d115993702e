"""The probe's shortcut (complex pairs) equals the real rotary path of niah.rope, and behaves."""

from __future__ import annotations

import torch

from niah.backends.probe import ProbeBackend
from niah.data.dataset import Dataset
from niah.rope import apply_rotary, resolve_variant
from niah.sweep.plan import make_plan
from niah.sweep.tasks import TASKS


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


def test_query_matches_the_needle_better_than_its_look_alikes(small_dataset):
    ds = Dataset(small_dataset)
    probe = ProbeBackend()
    sample = make_plan(ds, [TASKS["v-niah-d"]], [resolve_variant("vanilla")], lengths=[8])[0]
    uq = probe._query(ds, sample)
    refs = sample.frames(ds)
    probe._load_content(ds, refs)

    def match(ref):
        return (uq[:, None, :] * probe._content[ref.key].conj()).real.sum(-1).amax(1).mean()

    needle = next(r for r in refs if r.kind == "needle")
    others = [r for r in refs if r.kind != "needle"]
    assert all(match(needle) > match(r) for r in others)


def test_short_haystacks_are_solved_by_every_variant_without_distractors(small_dataset):
    ds = Dataset(small_dataset)
    probe = ProbeBackend()
    variants = [resolve_variant(n) for n in ("vanilla", "m-rope", "videorope", "hope")]
    results = list(probe.run(make_plan(ds, [TASKS["v-niah"]], variants), ds))
    assert all(r.correct for r in results)
    assert {r.scores["retrieved_kind"] for r in results} == {"needle"}
