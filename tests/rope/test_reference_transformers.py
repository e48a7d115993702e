"""niah's Qwen position ids and rotary tables against transformers' own code, on tiny configs.

transformers 5.x continues the text after a vision run at s + max(H, W), ignoring T, where Qwen's
design (and transformers 4.x) continue at the largest position + 1. The two agree when
τ(T−1) < max(H, W); random layouts here respect that, and test_rules.py checks the
continuation rule on long videos on its own.
"""

from __future__ import annotations

import random

import pytest
import torch
from tiny_qwen import tiny_config

from niah.rope import Layout, TextRun, VisionRun, resolve_variant, split_frames

MODELS = {}


def model_of(family: str):
    if family not in MODELS:
        from transformers import Qwen2_5_VLModel, Qwen2VLModel, Qwen3VLModel

        cls = {"qwen2_vl": Qwen2VLModel, "qwen2_5_vl": Qwen2_5_VLModel, "qwen3_vl": Qwen3VLModel}[family]
        torch.manual_seed(0)
        MODELS[family] = cls(tiny_config(family)).eval()
    return MODELS[family]


def random_layout(rng: random.Random, seconds: bool) -> Layout:
    """Text/image/video runs in random order, text between vision runs (vision_start/end)."""
    runs = []
    for _ in range(rng.randint(1, 5)):
        runs.append(TextRun(rng.randint(1, 6)))
        h, w = rng.randint(1, 6), rng.randint(1, 6)
        if rng.random() < 0.35:
            runs.append(VisionRun("image", 1, h, w))
        else:
            s = rng.choice([0.5, 1.0, 2.0]) if seconds else None
            per_unit = 2 * (s if s is not None else 1.0) if seconds else 1.0
            t_max = max(1, int((max(h, w) - 1) / per_unit) + 1)  # keeps τ(T−1) < max(H, W)
            runs.append(VisionRun("video", rng.randint(1, t_max), h, w, s))
    if rng.random() < 0.7:
        runs.append(TextRun(rng.randint(1, 6)))
    return Layout(tuple(runs))


def transformers_inputs(layout: Layout):
    """input_ids, mm_token_type_ids and grids in transformers' pre-merge patch units."""
    types, image_grid, video_grid, seconds = [], [], [], []
    for run in layout.runs:
        if isinstance(run, TextRun):
            types += [0] * run.length
            continue
        grid = [run.frames, 2 * run.height, 2 * run.width]
        if run.kind == "image":
            types += [1] * run.num_tokens
            image_grid.append(grid)
        else:
            types += [2] * run.num_tokens
            video_grid.append(grid)
            seconds.append(1.0 if run.seconds is None else run.seconds)
    kw = dict(
        input_ids=torch.ones(1, len(types), dtype=torch.long),
        mm_token_type_ids=torch.tensor([types]),
        image_grid_thw=torch.tensor(image_grid) if image_grid else None,
        video_grid_thw=torch.tensor(video_grid) if video_grid else None,
    )
    return kw, seconds


@pytest.mark.parametrize("seed", range(40))
def test_m_rope_equals_qwen2_vl(seed):
    layout = random_layout(random.Random(seed), seconds=False)
    kw, _ = transformers_inputs(layout)
    ref, _ = model_of("qwen2_vl").get_rope_index(**kw)
    assert torch.equal(resolve_variant("m-rope").position_ids(layout), ref[:, 0])


def truncates_seconds() -> bool:
    """Whether the installed transformers drops the fraction of second_per_grid_ts (5.17 computes
    tokens_per_second · int(seconds); the original Qwen2.5-VL code and 5.23 use the float)."""
    layout = Layout((TextRun(1), VisionRun("video", 2, 1, 1, 0.5)))
    kw, _ = transformers_inputs(layout)
    ref, _ = model_of("qwen2_5_vl").get_rope_index(**kw, second_per_grid_ts=[0.5])
    return int(ref[0, 0, -1]) == 1  # the second unit at 1 + 0 instead of 1 + 0.5 · 2


@pytest.mark.parametrize("seed", range(40))
def test_m_rope_time_equals_qwen2_5_vl(seed):
    layout = random_layout(random.Random(seed), seconds=True)
    kw, seconds = transformers_inputs(layout)
    if any(s % 1 for s in seconds) and truncates_seconds():
        pytest.skip("this transformers truncates fractional second_per_grid_ts; niah follows the original formula")
    ref, _ = model_of("qwen2_5_vl").get_rope_index(**kw, second_per_grid_ts=seconds or None)
    ours = resolve_variant("m-rope-time:tokens_per_second=2").position_ids(layout)
    assert torch.equal(ours, ref[:, 0])


@pytest.mark.parametrize("seed", range(40))
def test_mrope_interleaved_equals_qwen3_vl(seed):
    """Qwen3-VL: every temporal unit is its own run with timestamp text between units."""
    rng = random.Random(seed)
    layout = split_frames(random_layout(rng, seconds=False), separator_tokens=rng.randint(1, 5))
    kw, _ = transformers_inputs(layout)
    ref, _ = model_of("qwen3_vl").get_rope_index(**kw)
    assert torch.equal(resolve_variant("mrope-interleaved").position_ids(layout), ref[:, 0])


def test_qwen3_multi_unit_video_row_is_split_like_ours():
    """A single video_grid_thw row with T units equals niah's split_frames layout."""
    layout = Layout.parse("text:3,video:3x2x4,text:2")
    split = split_frames(layout, separator_tokens=4)
    kw, _ = transformers_inputs(split)
    kw["video_grid_thw"] = torch.tensor([[3, 4, 8]])
    ref, _ = model_of("qwen3_vl").get_rope_index(**kw)
    assert torch.equal(resolve_variant("mrope-interleaved").position_ids(split), ref[:, 0])


ROTARY = {
    "qwen2_vl": ("m-rope", "transformers.models.qwen2_vl.modeling_qwen2_vl", "Qwen2VLRotaryEmbedding"),
    "qwen2_5_vl": ("m-rope-time", "transformers.models.qwen2_5_vl.modeling_qwen2_5_vl", "Qwen2_5_VLRotaryEmbedding"),
    "qwen3_vl": ("mrope-interleaved", "transformers.models.qwen3_vl.modeling_qwen3_vl", "Qwen3VLTextRotaryEmbedding"),
}


@pytest.mark.parametrize("family", list(ROTARY))
@pytest.mark.parametrize("section", [(2, 3, 3), (4, 2, 2), (2, 2, 4)])
def test_rotary_tables_equal_transformers(family, section):
    import importlib

    variant_name, module, cls = ROTARY[family]
    config = tiny_config(family, mrope_section=section, theta=1_000_000.0).text_config
    rotary = getattr(importlib.import_module(module), cls)(config)
    layout = random_layout(random.Random(7), seconds=False)
    ids = resolve_variant(variant_name).position_ids(layout)
    x = torch.zeros(1, ids.shape[1], 16)
    cos_ref, sin_ref = rotary(x, ids[:, None, :])  # (1, L, head_dim)
    cos, sin = resolve_variant(variant_name).rotary_tables(ids, 16, 1_000_000.0, section=section)
    assert torch.equal(cos, cos_ref[0]) and torch.equal(sin, sin_ref[0])


def test_default_sections_are_the_published_ones():
    v = resolve_variant("m-rope").axis_of_pair(128)
    assert list(v[:16]) == [0] * 16 and list(v[16:40]) == [1] * 24 and list(v[40:]) == [2] * 24
    q3 = resolve_variant("mrope-interleaved").axis_of_pair(128)
    assert [i for i in range(64) if q3[i] == 1] == list(range(1, 59, 3))
    assert [i for i in range(64) if q3[i] == 2] == list(range(2, 60, 3))


HY_LAYOUTS = [
    # (runs): ("t", n) text, ("v", T, H, W) a video and ("i", 1, H, W) an image, W before the newline column
    [("v", 2, 2, 2), ("t", 1)],  # transformers' docstring example: t = [0×6, 3×6], next text at 6
    [("t", 3), ("v", 1, 1, 1), ("t", 2)],
    [("t", 5), ("v", 4, 3, 2), ("t", 4)],  # H = 3 = W + 1: a square block
    [("t", 2), ("v", 3, 4, 1), ("t", 3)],  # H > W + 1: the block is H
    [("t", 1), ("v", 6, 2, 5), ("t", 7)],  # W + 1 > H
    [("t", 4), ("i", 1, 3, 3), ("t", 2), ("v", 5, 2, 3), ("t", 1)],  # an image, then a video
    [("t", 2), ("v", 2, 3, 3), ("t", 3), ("v", 3, 1, 4), ("t", 2)],  # two videos
    [("t", 1), ("v", 9, 2, 2), ("t", 6), ("i", 1, 5, 2), ("t", 3)],  # a long video: blocks, not τ, space frames
    [("v", 3, 2, 6)],  # a video at the very start and end
]


@pytest.mark.parametrize("runs", HY_LAYOUTS)
def test_hy4_block_equals_hy_v4_vl(runs):
    """hy4-block's positions equal transformers' HYV4VLModel.get_rope_index (5.25+), each merged row
    of a frame W + 1 tokens wide (its newline token), called on a stand-in holding only what the
    method reads (the vision config's spatial_merge_size)."""
    from types import SimpleNamespace

    modeling = pytest.importorskip("transformers.models.hy_v4_vl.modeling_hy_v4_vl")
    model = modeling.HYV4VLModel
    merge = 2
    stand_in = SimpleNamespace(config=SimpleNamespace(vision_config=SimpleNamespace(spatial_merge_size=merge)))
    stand_in.get_vision_position_ids = lambda *a, **k: model.get_vision_position_ids(stand_in, *a, **k)
    types, images, videos, layout = [], [], [], []
    for kind, *size in runs:
        if kind == "t":
            types += [0] * size[0]
            layout.append(TextRun(size[0]))
            continue
        frames, h, w = size
        types += [1 if kind == "i" else 2] * (frames * h * (w + 1))
        (images if kind == "i" else videos).append([frames, merge * h, merge * w])
        layout.append(VisionRun("image" if kind == "i" else "video", frames, h, w + 1))
    ref, _ = model.get_rope_index(stand_in, input_ids=torch.ones(1, len(types), dtype=torch.long),
                                  mm_token_type_ids=torch.tensor([types]),
                                  image_grid_thw=torch.tensor(images) if images else None,
                                  video_grid_thw=torch.tensor(videos) if videos else None)  # fmt: skip
    ours = resolve_variant("hy4-block").position_ids(Layout(tuple(layout)))
    assert torch.equal(ours, ref[:, 0])
    if runs == HY_LAYOUTS[0]:  # the docstring's numbers, written out
        assert ours[0, :12].tolist() == [0] * 6 + [3] * 6 and ours[:, 12].tolist() == [6, 6, 6]
        assert ours[1, :12].tolist() == [0, 0, 0, 1, 1, 1, 3, 3, 3, 4, 4, 4]
        assert ours[2, :12].tolist() == [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]
