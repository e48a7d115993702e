"""The defining properties of each variant, checked from their formulas."""

from __future__ import annotations

import pytest
import torch

from niah.errors import NiahError
from niah.rope import VARIANTS, Layout, apply_rotary, resolve_variant
from niah.rope.frequencies import AXIS_T, UNROTATED

LAYOUT = "text:4,video:5x3x5@2,text:3,image:2x4,text:6"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_scores_depend_only_on_position_differences(name):
    """Shifting every position by a constant per axis leaves q·k unchanged (relative encoding)."""
    v = resolve_variant(name)
    ids = v.position_ids(LAYOUT).double()
    g = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(ids.shape[1], 32, generator=g, dtype=torch.float64),
        torch.randn(ids.shape[1], 32, generator=g, dtype=torch.float64),
    )

    def scores(p):
        cos, sin = v.rotary_tables(p, 32, 10_000.0, dtype=torch.float64)
        qr, kr = apply_rotary(q, k, cos, sin)
        return qr @ kr.mT  # (L, L), or (kv_heads, L, L) per head

    shift = torch.tensor([[7.0], [-3.0], [11.0], [5.0]][: len(ids)], dtype=torch.float64)  # one per coordinate row
    assert torch.allclose(scores(ids), scores(ids + shift), atol=1e-3)
    assert not torch.allclose(scores(ids), scores(ids * 2), atol=1e-3)


@pytest.mark.parametrize("delta", [1.0, 2.0, 0.5, 1.5])
def test_videorope_diagonal_layout_and_delta(delta):
    v = resolve_variant(f"videorope:delta={delta}")
    ids = v.position_ids("text:3,video:4x5x7,text:2").double()
    t, h, w = (ids[i, 3 : 3 + 140].reshape(4, 5, 7) for i in range(3))
    # temporal spacing δ between consecutive frames, starting right after the text (s = 3)
    assert torch.allclose(t[:, 0, 0], 3 + delta * torch.arange(4, dtype=torch.float64))
    # centred grid: the centre token sits on the diagonal, offsets are symmetric
    assert torch.equal(h[:, 2, 3], t[:, 2, 3]) and torch.equal(w[:, 2, 3], t[:, 2, 3])
    assert torch.equal(h[:, 0, 0] - t[:, 0, 0], -(h[:, 4, 0] - t[:, 4, 0]))
    assert torch.equal(w[:, 0, 0] - t[:, 0, 0], -(w[:, 0, 6] - t[:, 0, 6]))
    # text after continues at max(t) + 1
    assert ids[0, -2] == 3 + delta * 3 + 1
    fractional = delta != int(delta)
    assert (v.position_ids("text:1,video:4x1x1").dtype == torch.float64) == fractional


def test_videorope_options_are_ablations_not_copies():
    assert (
        resolve_variant("videorope:layout=mrope,delta=1").position_ids(LAYOUT).tolist()
        == resolve_variant("m-rope").position_ids(LAYOUT).tolist()
    )
    high = resolve_variant("videorope:alloc=high").axis_of_pair(128)
    assert list(high[:16]) == [AXIS_T] * 16
    inter = resolve_variant("videorope:alloc=interleaved").axis_of_pair(128)
    assert (inter == resolve_variant("mrope-interleaved").axis_of_pair(128)).all()


def test_hope_zeroes_the_temporal_frequencies_for_every_token():
    v = resolve_variant("hope")
    axis = v.axis_of_pair(128)
    assert list(axis[48:]) == [UNROTATED] * 16 and AXIS_T not in axis
    cos, sin = v.rotary_tables(v.position_ids(LAYOUT), 128, 1e6)
    zero = torch.tensor([i for i in range(64) if axis[i] == UNROTATED])
    for half in (zero, zero + 64):
        assert torch.equal(cos[:, half], torch.ones_like(cos[:, half]))
        assert torch.equal(sin[:, half], torch.zeros_like(sin[:, half]))
    assert resolve_variant("hope:delta=0.75").position_ids("text:1,video:3x1x1")[0].tolist() == [0, 1, 1.75, 2.5]


@pytest.mark.parametrize(
    ("name", "expected_next"),
    [
        ("vanilla", 2 + 40 * 2 * 3),  # s + T·H·W
        ("m-rope", 2 + 40),  # s + max(T, H, W): T wins for a long video (transformers 5.x: s + 3)
        ("m-rope-time", 2 + 39 * 2 * 2 + 1),  # s + ⌊(T−1)·2·S⌋ + 1 with S = 2 s
        ("videorope", 2 + 2 * 39 + 1),  # max(t) + 1
        ("tad", 2 + 40 * 2 * 3),
    ],
)
def test_text_continuation_after_a_long_video(name, expected_next):
    ids = resolve_variant(name).position_ids("text:2,video:40x2x3@2,text:3")
    assert ids[:, -3].tolist() == [expected_next] * 3
    assert ids[:, -1].tolist() == [expected_next + 2] * 3


def test_rope_tie_is_symmetric_and_equals_m_rope_on_square_grids():
    square = "text:2,video:3x4x4,text:1"
    assert torch.equal(resolve_variant("rope-tie").position_ids(square), resolve_variant("m-rope").position_ids(square))
    ids = resolve_variant("rope-tie").position_ids("text:2,video:1x2x6,text:1").double()
    h = ids[1, 2:14]
    assert torch.isclose(h.min() - 1, 2 + 6 - h.max())  # equal gaps to the text before and after


def test_layout_grammar_round_trips_and_rejects_malformed():
    text = "text:4,video:5x3x5@2,text:3,image:2x4,video:2x1x1"
    assert str(Layout.parse(text)) == text and Layout.parse(text).num_tokens == 4 + 75 + 3 + 8 + 2
    for bad in ["text:", "video:2x3", "vid:1", "image:0x3", "video:2x2x2@0", "text:3,,text:2"]:
        with pytest.raises(NiahError):
            Layout.parse(bad)


def test_unknown_names_and_options_are_clear_errors():
    with pytest.raises(NiahError, match="did you mean.*m-rope"):
        resolve_variant("mrope")
    with pytest.raises(NiahError, match="unknown option 'delt'"):
        resolve_variant("videorope:delt=2")
    with pytest.raises(NiahError, match="must be one of"):
        resolve_variant("videorope:alloc=middle")
    with pytest.raises(NiahError, match="must be a float"):
        resolve_variant("hope:delta=big")
    assert resolve_variant("videorope:delta=1.5,alloc=high").spec == "videorope:delta=1.5,layout=diagonal,alloc=high"


def test_inert_options_are_the_temporal_ones_when_every_frame_is_its_own_run():
    from niah.rope import Layout, inert_options, resolve_variant

    one_run_per_frame = Layout.parse("text:3,video:1x2x2,text:2,video:1x2x2,text:2,video:1x2x2,text:2")
    one_run = Layout.parse("text:3,video:3x2x2,text:2")
    expected = {"videorope": ["delta"], "tad:delta=2": ["delta"], "hope:delta=1.5": ["delta"],
                "m-rope-time": ["tokens_per_second"], "m-rope": [], "mrope-interleaved": [], "vanilla": [],
                "mmrope": ["position_scale[0]"], "omnirope:temporal_stride=2": ["temporal_stride"],
                "mhrope:temporal_stride=2": ["temporal_stride"], "circlerope:temporal_stride=0.5": ["temporal_stride"]}
    # at the neutral value (stride or δ 1) an option asks for nothing the layout loses
    expected |= {name: [] for name in ("tad", "hope", "omnirope", "ilrope", "mhrope", "circlerope", "grape", "v2pe",
                                       "vrope", "mmrope:position_scale=[1,8,8]")}  # fmt: skip
    for name, inert in expected.items():
        assert inert_options(resolve_variant(name), one_run_per_frame, one_run) == inert, name
    assert inert_options(resolve_variant("videorope"), one_run, one_run) == []  # δ acts in one run
