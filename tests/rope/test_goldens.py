"""niah's variants against their authors' code run verbatim: the Qwen team's multimodal RoPE study
(github.com/JJJYmmm/Multimodal-RoPEs) and VRoPE (github.com/johncaged/VRoPE). Fixtures made by
scripts/make_rope_goldens.py; commit, function and options recorded in each file.

Upstream's Multimodal-RoPEs places a vision run only after each vision_start token, so it acts on
Qwen3-VL's one-frame-per-run prompts (and images); a multi-frame video behind one vision_start
(Qwen2-VL's form) gets its first frame placed and the rest numbered like text. niah equals upstream
wherever upstream's rule acts, and the multi-frame cases are checked to be that known difference.
VRoPE places every frame of a run, so every case is compared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from niah.rope import VARIANTS, Layout, VisionRun, resolve_variant

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rope_goldens"
GOLDENS = sorted(FIXTURES.glob("*.json"))
HEAD_DIM, BASE = 128, 5_000_000.0
# niah keeps the authors' allocation where the study's differs (docs/rope.md): upstream puts pair 0
# on t and h on the odd pairs, w on the even ones; VideoRoPE's and HoPE's own code put h on even
# pairs from 0 and w on odd ones.
OFFICIAL_ALLOCATION = {"videorope", "hope"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def tables(path: Path) -> dict:
    return dict(np.load(path.with_suffix(".tables.npz")))


def close(ours: np.ndarray, golden: np.ndarray, dtype: str) -> bool:
    """Exact for upstream's integer positions; to float32 rounding for its float ones."""
    if dtype == "int64":
        return np.array_equal(ours, golden)
    return np.allclose(ours, golden, rtol=1e-6, atol=1e-5)


def test_every_golden_names_its_upstream_commit_and_function_and_every_variant_has_one():
    assert len(GOLDENS) >= 20
    covered = set()
    for path in GOLDENS:
        golden = load(path)
        up = golden["upstream"]
        assert len(up["commit"]) == 40 and up["function"].split(":")[0].endswith(".py")
        assert path.with_suffix(".tables.npz").exists()
        covered.add(golden["niah_variant"].split(":")[0])
    new = {"mhrope", "circlerope", "v2pe", "ilrope", "omnirope", "mmrope", "grape", "vrope"}
    assert new <= covered <= set(VARIANTS)


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_positions_equal_upstream_where_its_rule_acts(path):
    golden = load(path)
    variant = resolve_variant(golden["niah_variant"])
    acting = [c for c in golden["cases"] if c["every_frame_placed"]]
    assert len(acting) >= 6
    for case in acting:
        ours = variant.position_array(case["layout"])
        reference = np.array(case["position_ids"], dtype=np.float64)
        assert ours.shape == reference.shape, case["layout"]
        assert close(ours, reference, case["dtype"]), case["layout"]


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_upstream_numbers_later_frames_of_one_vision_start_as_text(path):
    """The documented difference: after the first frame of a multi-frame run, upstream's study
    counts one position per token on every axis, as for text."""
    golden = load(path)
    cases = [c for c in golden["cases"] if not c["every_frame_placed"]]
    assert cases or golden["niah_variant"] == "vrope"
    for case in cases:
        layout = Layout.parse(case["layout"])
        ref = np.array(case["position_ids"], dtype=np.float64)
        start = 0
        for run in layout.runs:
            if isinstance(run, VisionRun) and run.frames > 1:
                rest = ref[:, start + run.height * run.width : start + run.num_tokens]
                assert np.allclose(np.diff(rest, axis=1), 1) and (rest == rest[0]).all()
            start += run.num_tokens


STUDY = [p for p in GOLDENS if load(p)["niah_variant"] != "vrope"]


@pytest.mark.parametrize("path", STUDY, ids=lambda p: p.stem)
def test_rotary_tables_equal_upstreams_rotary_class(path):
    """cos and sin from niah's positions and allocation equal what upstream's own rotary
    embedding class makes of its positions: the allocation per pair (per KV head for mhrope), the
    frequency change (GRAPE's log_freq_scale) and the positions together."""
    golden = load(path)
    variant = resolve_variant(golden["niah_variant"])
    if variant.name in OFFICIAL_ALLOCATION:
        pytest.skip("niah keeps the authors' allocation: see test_upstream_allocation_differs_as_documented")
    ids = variant.position_ids(golden["table_layout"]).to(torch.float64)
    cos, sin = variant.rotary_tables(ids, HEAD_DIM, BASE)
    ref = tables(path)
    assert cos.shape[:-1] == ref["cos"].shape[:-1]
    half = HEAD_DIM // 2
    assert np.allclose(cos[..., :half].numpy(), ref["cos"], atol=2e-5)
    assert np.allclose(sin[..., :half].numpy(), ref["sin"], atol=2e-5)


@pytest.mark.parametrize("path", [p for p in STUDY if load(p)["niah_variant"].split(":")[0] in OFFICIAL_ALLOCATION],
                         ids=lambda p: p.stem)  # fmt: skip
def test_upstream_allocation_differs_as_documented(path):
    """Upstream's VideoRoPE/HoPE tables equal the allocation docs/rope.md gives for them — pair 0
    on t, h on odd pairs 1..47, w on even pairs 2..46, t on 48..63 (HoPE zeroes every t position,
    so its t pairs do not turn) — and niah's (the authors': h even 0..46, w odd 1..47) differs."""
    from niah.rope.tables import rotary_tables

    golden = load(path)
    variant = resolve_variant(golden["niah_variant"])
    t = -1 if variant.name == "hope" else 0
    documented = np.array([t] + [1 if i % 2 else 2 for i in range(1, 48)] + [t] * 16)
    ids = variant.position_ids(golden["table_layout"]).to(torch.float64)
    cos, sin = rotary_tables(ids, documented, HEAD_DIM, BASE)
    ref = tables(path)
    assert np.allclose(cos[..., :64].numpy(), ref["cos"], atol=2e-5)
    assert np.allclose(sin[..., :64].numpy(), ref["sin"], atol=2e-5)
    assert variant.axis_of_pair(HEAD_DIM).tolist() == [1 if i % 2 == 0 else 2 for i in range(48)] + [t] * 16


def test_vrope_pairs_follow_upstreams_per_pair_positions():
    """VRoPE's upstream returns a position per pair (L, 64): niah's rows picked by its allocation
    (pair i on p(i mod 4)) equal it."""
    path = FIXTURES / "vrope.json"
    golden = load(path)
    variant = resolve_variant("vrope")
    ids = variant.position_array(golden["table_layout"])  # (4, L)
    per_pair = ids[variant.axis_of_pair(HEAD_DIM)]  # (64, L)
    assert np.array_equal(per_pair.T, tables(path)["pair_positions"])
