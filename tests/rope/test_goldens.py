"""niah's variants against the Qwen team's multimodal RoPE study run verbatim
(github.com/JJJYmmm/Multimodal-RoPEs; fixtures made by scripts/make_rope_goldens.py, commit and
options recorded in each file).

Upstream places a vision run only after each vision_start token, so it acts on Qwen3-VL's
one-frame-per-run prompts (and images); a multi-frame video behind one vision_start (Qwen2-VL's
form) gets its first frame placed and the rest numbered like text. niah equals upstream wherever
upstream's rule acts, and the multi-frame cases are checked to be that known difference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from niah.rope import Layout, VisionRun, resolve_variant

GOLDENS = sorted((Path(__file__).parents[1] / "fixtures" / "rope_goldens").glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_golden_file_names_its_upstream_commit_and_function():
    assert len(GOLDENS) >= 6
    for path in GOLDENS:
        up = load(path)["upstream"]
        assert len(up["commit"]) == 40 and up["function"].startswith("multimodal_ropes/pos_design/")


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_positions_equal_upstream_where_its_rule_acts(path):
    golden = load(path)
    variant = resolve_variant(golden["niah_variant"])
    acting = [c for c in golden["cases"] if c["one_frame_per_run"]]
    assert len(acting) >= 5
    for case in acting:
        ours = variant.position_array(case["layout"]).astype(np.float64)
        assert np.allclose(ours, np.array(case["position_ids"], dtype=np.float64), rtol=1e-6, atol=0), case["layout"]


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_upstream_numbers_later_frames_of_one_vision_start_as_text(path):
    """The documented difference: after the first frame of a multi-frame run, upstream counts
    one position per token on every axis, as for text."""
    golden = load(path)
    for case in (c for c in golden["cases"] if not c["one_frame_per_run"]):
        layout = Layout.parse(case["layout"])
        ref = np.array(case["position_ids"], dtype=np.float64)
        start = 0
        for run in layout.runs:
            if isinstance(run, VisionRun) and run.frames > 1:
                rest = ref[:, start + run.height * run.width : start + run.num_tokens]
                assert (np.diff(rest, axis=1) == 1).all() and (rest == rest[0]).all()
            start += run.num_tokens
