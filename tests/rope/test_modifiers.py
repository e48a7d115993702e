"""Context-extension modifiers (issue 13 item 3) against transformers' own rope-init functions
(`modeling_rope_utils.ROPE_INIT_FUNCTIONS`: linear, dynamic, yarn) on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from niah.cli import main
from niah.errors import NiahError
from niah.rope import resolve_variant
from niah.rope.frequencies import UNROTATED
from niah.rope.tables import inverse_frequencies

HEAD_DIM, THETA = 128, 1e6


def transformers_frequencies(rope_type: str, seq_len: int | None = None, max_positions: int = 32768,
                             **params) -> tuple[torch.Tensor, float]:  # fmt: skip
    from transformers import Qwen2Config
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = Qwen2Config(hidden_size=HEAD_DIM * 4, num_attention_heads=4, max_position_embeddings=max_positions,
                         rope_parameters={"rope_type": rope_type, "rope_theta": THETA, **params})  # fmt: skip
    return ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", seq_len=seq_len)


CASES = [
    ("m-rope+linear:factor=4", "linear", None, 32768, {"factor": 4.0}),
    ("m-rope+linear:factor=2.5", "linear", None, 32768, {"factor": 2.5}),
    ("videorope+yarn:factor=4,original=32768", "yarn", None, 131072,
     {"factor": 4.0, "original_max_position_embeddings": 32768}),
    ("vanilla+yarn:factor=8,original=4096,beta_fast=16,beta_slow=2", "yarn", None, 32768,
     {"factor": 8.0, "original_max_position_embeddings": 4096, "beta_fast": 16, "beta_slow": 2}),
    ("vanilla+yarn:factor=4,original=8192,truncate=false", "yarn", None, 32768,
     {"factor": 4.0, "original_max_position_embeddings": 8192, "truncate": False}),
    ("vanilla+yarn:factor=4,original=8192,attention_factor=1.5", "yarn", None, 32768,
     {"factor": 4.0, "original_max_position_embeddings": 8192, "attention_factor": 1.5}),
    ("m-rope+ntk:factor=4,original=32768,seq_len=100000", "dynamic", 100000, 32768, {"factor": 4.0}),
    ("m-rope+ntk:factor=2,original=8192", "dynamic", 16384, 8192, {"factor": 2.0}),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "rope_type", "seq_len", "max_positions", "params"), CASES)
def test_modifiers_equal_transformers_rope_init(spec, rope_type, seq_len, max_positions, params):
    ref_inv, ref_scale = transformers_frequencies(rope_type, seq_len, max_positions, **params)
    inv, scale = resolve_variant(spec).inverse_frequencies(HEAD_DIM, THETA)
    assert inv.dtype == torch.float32 and inv.shape == (HEAD_DIM // 2,)
    assert torch.allclose(inv, ref_inv, rtol=2e-7, atol=0), (inv - ref_inv).abs().max()
    assert scale == pytest.approx(ref_scale, rel=1e-12)
    assert not torch.equal(inv, inverse_frequencies(HEAD_DIM, THETA))


def test_yarn_scales_cos_and_sin_by_its_attention_factor():
    ids = resolve_variant("m-rope").position_ids("text:3,video:2x2x2,text:2")
    cos, sin = resolve_variant("m-rope+yarn:factor=4,original=16").rotary_tables(ids, 16, 1e4)
    inv, scale = resolve_variant("m-rope+yarn:factor=4,original=16").inverse_frequencies(16, 1e4)
    axis = resolve_variant("m-rope").axis_of_pair(16)
    angles = ids.double()[axis, :].T * inv.double()
    assert scale == pytest.approx(0.1 * np.log(4) + 1)
    assert torch.allclose(cos[:, :8].double(), scale * angles.cos(), atol=1e-6)
    assert torch.allclose(sin[:, 8:].double(), scale * angles.sin(), atol=1e-6)


def test_theta_and_p():
    base = resolve_variant("m-rope+theta=5e6")
    assert torch.equal(base.inverse_frequencies(HEAD_DIM, THETA)[0], inverse_frequencies(HEAD_DIM, 5e6))
    axis = resolve_variant("m-rope+p=0.75").axis_of_pair(HEAD_DIM)
    plain = resolve_variant("m-rope").axis_of_pair(HEAD_DIM)
    assert (axis[:48] == plain[:48]).all() and (axis[48:] == UNROTATED).all()
    assert resolve_variant("videorope+p=0.5").axis_of_pair(16).tolist() == [1, 2, 1, 2, -1, -1, -1, -1]


def test_spelling_round_trips_and_positions_are_untouched():
    for text in ("videorope:delta=1.5+yarn:factor=4+theta=5e6", "vanilla+p=0.5+ntk:factor=2", "m-rope+theta=5e+06"):
        v = resolve_variant(text)
        assert resolve_variant(v.spec).spec == v.spec
        assert torch.equal(v.position_ids("text:2,video:3x2x2,text:1"),
                           resolve_variant(text.split("+")[0]).position_ids("text:2,video:3x2x2,text:1"))  # fmt: skip
    assert resolve_variant("m-rope+theta=5e6").spec == "m-rope+theta=5e+06"


@pytest.mark.parametrize(("text", "message"), [
    ("m-rope+yarm:factor=4", "did you mean yarn"),
    ("m-rope+yarn:factr=4", "unknown option 'factr'"),
    ("m-rope+yarn:factor=0.5", "must be ≥ 1"),
    ("m-rope+p=1.5", "in (0, 1]"),
    ("m-rope+theta=1", "must be > 1"),
    ("m-rope+yarn:factor=4+linear:factor=2", "give one of them"),
    ("m-rope+yarn:truncate=maybe", "true or false"),
    ("m-rope+yarn:factor=nan", "finite"),
    ("m-rope+linear", None),
])  # fmt: skip
def test_bad_modifiers_are_one_line_errors(text, message):
    if message is None:
        assert resolve_variant(text).modifiers[0].options == {"factor": 4.0}
        return
    with pytest.raises(NiahError, match=message.replace("(", r"\(").replace("]", r"\]")):
        resolve_variant(text)


def test_modifiers_through_the_cli_and_a_backend(small_dataset, tmp_path):
    res = CliRunner().invoke(main, ["rope", "allocation", "m-rope+p=0.5", "--head-dim", "16", "--json"])
    assert res.exit_code == 0 and res.output.strip().endswith('"none": [4, 5, 6, 7]}'), res.output
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(small_dataset), "--model", "probe", "--variants",
                                    "m-rope,m-rope+yarn:factor=8,original=64", "--out", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    import json

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_variant: dict[str, list] = {}
    for r in rows:
        by_variant.setdefault(r["variant"], []).append(r.get("scores"))
    assert len(by_variant) == 2
    plain, yarn = by_variant.values()
    assert plain != yarn  # the modifier reached the backend's rotary tables
