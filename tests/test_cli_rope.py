"""`niah rope ...` through the real click entry point."""

from __future__ import annotations

import json

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


def test_positions_json_is_exact():
    res = run("rope", "positions", "m-rope", "--layout", "text:2,video:2x1x2,text:1", "--json")
    assert res.exit_code == 0
    assert json.loads(res.output) == {
        "variant": "m-rope",
        "layout": "text:2,video:2x1x2,text:1",
        "position_ids": [[0, 1, 2, 2, 3, 3, 4], [0, 1, 2, 2, 2, 2, 4], [0, 1, 2, 3, 2, 3, 4]],
    }


def test_allocation_json():
    out = json.loads(run("rope", "allocation", "hope", "--head-dim", "16", "--json").output)
    assert out == {"t": [], "h": [0, 2, 4], "w": [1, 3, 5], "none": [6, 7]}
    assert json.loads(run("rope", "allocation", "m-rope", "--json").output)["t"] == list(range(16))


def test_bad_input_is_one_line_and_exit_2():
    for args, needle in [
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
