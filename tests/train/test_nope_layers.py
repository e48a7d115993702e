"""`+nope:every=K` on the tiny model: the blocks it names rotate nothing, so with every block NoPE
the logits do not depend on the variant's positions at all; `niah train` takes it; the probe,
which has no layers, refuses it."""

from __future__ import annotations

import torch
from click.testing import CliRunner

from niah.cli import main
from niah.rope import resolve_variant
from niah.train.data import Stream, build_pool
from niah.train.model import TinyConfig, TinyModel


def logits_of(state, name: str, pool) -> torch.Tensor:
    model = TinyModel(TinyConfig(variant=name)).eval()
    model.load_state_dict(state)  # the same weights under every variant
    batch = Stream(TinyConfig(variant=name), resolve_variant(name), 0, [3], 4, pool).batch_at(0)
    with torch.no_grad():
        return model(batch.ids, batch.pixels, batch.is_vision, batch.cos, batch.sin, batch.last)


def test_nope_blocks_ignore_positions_and_the_others_keep_them():
    pool = build_pool(TinyConfig(), seed=0, haystack_frames=40)
    torch.manual_seed(0)
    state = TinyModel(TinyConfig()).state_dict()
    assert [b.rotate for b in TinyModel(TinyConfig(variant="m-rope+nope:every=3")).blocks] == [True, True, False]
    out = {n: logits_of(state, n, pool) for n in ("vanilla", "m-rope", "vanilla+nope:every=1", "m-rope+nope:every=1",
                                                  "m-rope+nope:every=3")}  # fmt: skip
    assert (out["vanilla"] - out["m-rope"]).abs().max() > 1e-4  # positions matter with rotary
    assert torch.allclose(out["vanilla+nope:every=1"], out["m-rope+nope:every=1"], atol=1e-6)  # and not without
    assert (out["m-rope+nope:every=3"] - out["m-rope"]).abs().max() > 1e-4
    assert (out["m-rope+nope:every=3"] - out["m-rope+nope:every=1"]).abs().max() > 1e-4


def test_niah_train_takes_it_and_the_probe_refuses_it(tmp_path, small_dataset):
    res = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "m"), "--variants", "m-rope+nope:every=3",
                                    "--steps", "2", "--threads", "1", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "m").glob("*/config.json"))) == 1
    res = CliRunner().invoke(main, ["run", str(small_dataset), "--model", "probe", "--variants",
                                    "m-rope+nope:every=2", "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 2 and "the probe has no layers" in res.output and not (tmp_path / "r").exists()
    res = CliRunner().invoke(main, ["rope", "list"])
    assert "+nope" in res.output


def test_a_layer_count_that_is_not_whole_is_refused():
    import pytest

    from niah.errors import NiahError

    for bad in ("0", "-4"):
        with pytest.raises(NiahError, match="must be a whole number of layers"):
            resolve_variant(f"m-rope+nope:every={bad}")
    with pytest.raises(NiahError, match="every='2.5' of '\\+nope'"):  # the option's type: an integer
        resolve_variant("m-rope+nope:every=2.5")


def test_a_pattern_that_turns_off_no_layer_is_refused(tmp_path, small_dataset):
    """every=4 on the tiny model's 3 layers names no layer: it would train and run plain m-rope."""
    res = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "m"), "--variants", "m-rope+nope:every=4",
                                    "--steps", "2", "-q"])  # fmt: skip
    assert res.exit_code == 2 and "turns rotary off in none of the tiny model's 3 attention layers" in res.output
    assert not (tmp_path / "m").exists()
    res = CliRunner().invoke(main, ["run", str(small_dataset), "--model", "tiny:@demo", "--variants",
                                    "m-rope+nope:every=4", "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 2 and "would change nothing there" in res.output and not (tmp_path / "r").exists()
