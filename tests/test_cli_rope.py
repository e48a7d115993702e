"""`niah rope ...` through the real click entry point."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from niah.cli import main
from niah.rope import VARIANTS


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_list_is_drawn_from_the_registry():
    out = run("rope", "list").output
    for name in VARIANTS:
        assert name in out
    rows = json.loads(run("rope", "list", "--json").output)
    by_name = {r["name"]: r for r in rows}
    assert by_name["videorope"]["temporal_frequencies"] == "low 48–63"
    assert by_name["m-rope"]["spatial_symmetry"] is False and by_name["videorope"]["spatial_symmetry"] is True
    assert all(r["paper"] and r["equation"] for r in rows)
    assert by_name["vrope"]["temporal_frequencies"].startswith("no t axis") and by_name["vrope"]["spatial_symmetry"]
    assert by_name["mhrope"]["temporal_frequencies"] == "all pairs of KV heads 0–1 of 8"
    assert by_name["v2pe"]["structure_3d"] is False and by_name["omnirope"]["structure_3d"] is True
    assert by_name["mhrope"]["options"]["mrope_section"] == [2, 3, 3]
    assert "mrope_section=[2,3,3]" in out and "position_scale=[4,8,8]" in out
    from niah.model_families import MODEL_FAMILIES

    for family in MODEL_FAMILIES.values():  # every hf family's own variant is named, from the family registry
        assert any(n.split(" as ")[0] == family.name for n in by_name[family.native_variant.split(":")[0]]["native_in"])
    assert by_name["videorope"]["native_in"] == ["ernie4_5_vl_moe as videorope:delta=1,layout=mrope,alloc=low"]
    qwen3_layout = ["qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe", "cosmos3_omni", "cosmos3_edge",
                    "cohere_compass", "qwen4_exp"]  # the 2026 families that took Qwen3-VL's interleaving
    assert by_name["mrope-interleaved"]["native_in"] == qwen3_layout
    assert f"mrope-interleaved ({', '.join(qwen3_layout)})" in out
    assert {"exaone4_5", "llava_onevision1_5", "internvl"} <= set(by_name["vanilla"]["native_in"])


def test_positions_json_is_exact():
    res = run("rope", "positions", "m-rope", "--layout", "text:2,video:2x1x2,text:1", "--json")
    assert res.exit_code == 0
    assert json.loads(res.output) == {
        "variant": "m-rope",
        "layout": "text:2,video:2x1x2,text:1",
        "axes": ["t", "h", "w"],
        "position_ids": [[0, 1, 2, 2, 3, 3, 4], [0, 1, 2, 2, 2, 2, 4], [0, 1, 2, 3, 2, 3, 4]],
    }


def test_positions_print_every_coordinate_row_vrope_four():
    """VRoPE: four rows p0..p3, the corner sums of a 2×3 image from s = 2 (vrope.py:106-154)."""
    out = json.loads(run("rope", "positions", "vrope", "--layout", "text:2,image:2x3,text:1", "--json").output)
    assert out["axes"] == ["p0", "p1", "p2", "p3"]
    assert out["position_ids"] == [[0, 1, 2, 3, 4, 3, 4, 5, 6], [0, 1, 4, 3, 2, 5, 4, 3, 6],
                                   [0, 1, 3, 4, 5, 2, 3, 4, 6], [0, 1, 5, 4, 3, 4, 3, 2, 6]]  # fmt: skip
    text = run("rope", "positions", "vrope", "--layout", "text:2,image:2x3,text:1").output.splitlines()
    assert [line.split(":")[0].strip() for line in text] == ["p0", "p1", "p2", "p3"]


def test_allocation_json():
    out = json.loads(run("rope", "allocation", "hope", "--head-dim", "16", "--json").output)
    assert out == {"t": [], "h": [0, 2, 4], "w": [1, 3, 5], "none": [6, 7]}
    assert json.loads(run("rope", "allocation", "m-rope", "--json").output)["t"] == list(range(16))


def test_allocation_json_per_head_axes_and_partial_rotary():
    heads = json.loads(run("rope", "allocation", "mhrope", "--head-dim", "16", "--json").output)["heads"]
    every = list(range(8))
    assert [h["t"] == every for h in heads] == [True, True] + [False] * 6
    assert [h["h"] == every for h in heads] == [False, False, True, True, True, False, False, False]
    assert [h["w"] == every for h in heads] == [False] * 5 + [True] * 3
    gqa = json.loads(run("rope", "allocation", "mhrope:num_key_value_heads=4,mrope_section=[1,1,1]", "--head-dim",
                         "8", "--json").output)  # fmt: skip
    assert gqa["heads"][3] == {"t": [], "h": [], "w": [], "none": [0, 1, 2, 3]}
    assert json.loads(run("rope", "allocation", "vrope", "--head-dim", "16", "--json").output) == {
        "p0": [0, 4], "p1": [1, 5], "p2": [2, 6], "p3": [3, 7], "axes": ["p0", "p1", "p2", "p3"]}
    # Qwen3.5: head_dim 256, a quarter rotates, interleaved [11, 11, 10] over its 32 pairs
    res = run("rope", "allocation", "mrope-interleaved", "--head-dim", "256", "--partial-rotary", "0.25",
              "--section", "11,11,10", "--json")  # fmt: skip
    out = json.loads(res.output)
    assert out["rotary_dim"] == 64
    assert out["h"] == list(range(1, 32, 3)) and out["w"] == list(range(2, 30, 3)) and len(out["t"]) == 11
    assert "rotary dims 0–63 of 256" in run("rope", "allocation", "m-rope", "--head-dim", "256", "--partial-rotary",
                                            "0.25").output  # fmt: skip


def test_bad_input_is_one_line_and_exit_2():
    for args, needle in [
        (("rope", "allocation", "m-rope", "--section", "16,24"), "three pair counts"),
        (("rope", "allocation", "m-rope", "--section", "16,24,20"), "summing to 64"),
        (("rope", "allocation", "m-rope", "--partial-rotary", "1.5"), "must be in (0, 1]"),
        (("rope", "allocation", "m-rope", "--head-dim", "10", "--partial-rotary", "0.5"), "must be even"),
        (("rope", "allocation", "mhrope:mrope_section=[4,4,4]"), "sum to at most num_key_value_heads=8"),
        (("rope", "allocation", "mhrope:mrope_section=[4,4]"), "list of 3 numbers, e.g. [2,3,3]"),
        (("rope", "allocation", "mhrope:mrope_section=4"), "list of 3 numbers"),
        (("rope", "allocation", "grape:grape_mode=axis"), "trained planes"),
        (("rope", "allocation", "grape:grape_mode=learned"), "must be one of canonical"),
        (("rope", "allocation", "circlerope:alpha=2"), "alpha=2 must be in [0, 1]"),
        (("rope", "allocation", "circlerope:move_to_positive=-1"), "positive offset"),
        (("rope", "allocation", "v2pe:visual_stride=0"), "visual_stride=0 must be positive"),
        # options that would change nothing: the circle blended out by the default dff_rate, a section unread
        (("rope", "allocation", "circlerope:radius=4"), "radius=4 changes nothing while the circle is off"),
        (("rope", "allocation", "circlerope:method=no_circle,dff_rate=0.5"), "method=no_circle, dff_rate=0.5 changes"),
        (("rope", "allocation", "vrope", "--section", "1,2,3"), "does not divide its pairs by a section"),
        (("rope", "positions", "video-rope", "--layout", "text:1"), "did you mean videorope"),
        (("rope", "positions", "m-rope", "--layout", "video:2x2"), "malformed layout run 'video:2x2'"),
        (("rope", "allocation", "videorope:foo=1"), "unknown option 'foo'"),
    ]:
        res = run(*args)
        assert res.exit_code == 2, res.output
        assert needle in res.output and len(res.output.strip().splitlines()) == 1


def test_plot_writes_each_format(tmp_path):
    for ext in ("png", "svg", "pdf"):
        res = run("rope", "plot", "m-rope", "videorope", "--out", str(tmp_path / f"f.{ext}"))
        assert res.exit_code == 0, res.output
        assert (tmp_path / f"f.{ext}").stat().st_size > 1000


def test_plot_draws_every_variant_vrope_with_its_four_coordinates(tmp_path):
    from niah.plot.rope_figures import rope_figure
    from niah.rope import resolve_variant

    res = run("rope", "plot", *VARIANTS, "--out", str(tmp_path / "all.png"))
    assert res.exit_code == 0, res.output
    fig = rope_figure([resolve_variant("vrope"), resolve_variant("mhrope")])
    coords = fig.axes[2]  # vrope's position panel: one line per coordinate row
    assert [line.get_label() for line in coords.get_lines()] == ["p0", "p1", "p2", "p3"]
    assert len(fig.axes[3].patches) == 8 * 64  # mhrope's allocation: one strip per KV head
    res = run("rope", "plot", "m-rope", "--out", str(tmp_path / "f.jpg"))
    assert res.exit_code == 2 and ".png, .pdf or .svg" in res.output


def test_plugin_registers_a_variant(tmp_path):
    plugin = tmp_path / "mine.py"
    plugin.write_text(
        "from niah.rope.variants import VariantSpec, register_variant, fixed_variant\n"
        "build = fixed_variant('my-rope', 'diagonal', 'sectioned')\n"
        "register_variant(VariantSpec('my-rope', 'test', 'paper', 'eq', build))\n"
    )
    res = run("--plugin", str(plugin), "rope", "positions", "my-rope", "--layout", "text:1,video:1x3x3", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["position_ids"][1][1:4] == [0, 0, 0]
    VARIANTS.pop("my-rope")


@pytest.mark.parametrize("base", ["0", "1", "nan", "inf", "-5"])
def test_rope_plot_refuses_a_base_that_draws_nans(tmp_path, base):
    res = CliRunner().invoke(main, ["rope", "plot", "m-rope", "--out", str(tmp_path / "f.png"), "--base", base])
    assert res.exit_code == 2 and "theta must be a finite number above 1" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "f.png").exists()
