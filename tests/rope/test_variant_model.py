"""The variant model beyond three rows and one table: option lists, per-KV-head tables, four
coordinates, integer storage, per-pair frequency changes and partial rotary (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from niah.cli import main
from niah.cli.run import split_variants
from niah.errors import NiahError
from niah.rope import VARIANTS, apply_rotary, resolve_variant
from niah.rope.frequencies import rotary_dim

LAYOUT = "text:3,image:3x4,text:2,video:3x2x3,text:2"


def test_list_options_parse_print_and_split_between_variants():
    v = resolve_variant("mhrope:mrope_section=[1,2,1],num_key_value_heads=4")
    assert v.options["mrope_section"] == (1, 2, 1)
    assert resolve_variant(v.spec).spec == v.spec and "mrope_section=[1,2,1]" in v.spec
    assert resolve_variant("mmrope:position_scale=[0.5,1,2]").options["position_scale"] == (0.5, 1.0, 2.0)
    assert split_variants("vanilla,mhrope:mrope_section=[1,1,1],num_key_value_heads=4,mmrope") == [
        "vanilla", "mhrope:mrope_section=[1,1,1],num_key_value_heads=4", "mmrope"]  # fmt: skip
    with pytest.raises(NiahError, match="list of floats"):
        resolve_variant("mmrope:position_scale=[a,b,c]")


def test_every_registered_variant_round_trips_its_spec_and_label():
    for name in VARIANTS:
        v = resolve_variant(name)
        assert resolve_variant(v.spec).spec == v.spec
        assert v.label == name  # defaults only
    assert resolve_variant("circlerope:dff_rate=0").label == "circlerope:dff_rate=0"


def test_per_head_tables_give_each_query_head_its_kv_heads_axis():
    """mhrope: a query head under GQA rotates by its KV head's axis (repeat_interleave, upstream's
    apply_multihead_rotary_pos_emb); unused KV heads are not rotated at all."""
    v = resolve_variant("mhrope:num_key_value_heads=4,mrope_section=[1,1,1]")
    ids = v.position_ids(LAYOUT).double()
    cos, sin = v.rotary_tables(ids, 16, 1e4, dtype=torch.float64)
    assert cos.shape == (4, ids.shape[1], 16)
    for head, row in enumerate([0, 1, 2]):  # KV heads 0, 1, 2 rotate all pairs by t, h, w
        one = resolve_variant("vanilla").rotary_tables(ids[row : row + 1].expand(3, -1), 16, 1e4, dtype=torch.float64)
        assert torch.allclose(cos[head], one[0]) and torch.allclose(sin[head], one[1])
    assert torch.equal(cos[3], torch.ones_like(cos[3])) and torch.equal(sin[3], torch.zeros_like(sin[3]))
    q = torch.randn(8, ids.shape[1], 16, dtype=torch.float64)  # 8 query heads over 4 KV heads
    k = torch.randn(8, ids.shape[1], 16, dtype=torch.float64)
    qr, _ = apply_rotary(q, k, cos.repeat_interleave(2, 0), sin.repeat_interleave(2, 0))
    assert torch.allclose(qr[6:], q[6:])  # query heads 6, 7 share the unrotated KV head 3
    assert not torch.allclose(qr[4:6], q[4:6])


def test_grape_log_freq_scale_changes_each_pairs_frequency_as_a_power():
    plain = resolve_variant("grape").inverse_frequencies(64, 1e4)[0].double()
    scaled = resolve_variant("grape:log_freq_scale=2").inverse_frequencies(64, 1e4)[0].double()
    assert torch.allclose(scaled, plain.sqrt(), rtol=1e-6)  # ω^(1/2)
    assert scaled[0] == 1 and (scaled[1:] > plain[1:]).all()


def test_integer_storage_truncates_like_an_integer_tensor():
    """mhrope and grape keep upstream's int64 position tensors: a fractional stride is truncated."""
    ids = resolve_variant("mhrope:temporal_stride=0.5").position_array("text:2,video:3x1x1,text:1")
    assert ids.dtype == np.int64 and ids[0, 2:5].tolist() == [2, 2, 3]  # 2, 2.5, 3 truncated
    floats = resolve_variant("omnirope:temporal_stride=0.5").position_array("text:2,video:3x1x1,text:1")
    assert floats[0, 2:5].tolist() == [2, 2.5, 3]


def test_partial_rotary_tables_equal_qwen35s_rotary_module():
    """Qwen3.5: head_dim 256, a quarter rotates, interleaved [11, 11, 10]: niah's mrope-interleaved
    over rotary_dim equals transformers' Qwen3_5TextRotaryEmbedding bit for bit."""
    config_module = pytest.importorskip("transformers.models.qwen3_5.configuration_qwen3_5")
    from transformers.models.qwen3_5.modeling_qwen3_5 import Qwen3_5TextRotaryEmbedding

    config = config_module.Qwen3_5TextConfig()
    reference = Qwen3_5TextRotaryEmbedding(config)
    v = resolve_variant("mrope-interleaved")
    ids = v.position_ids("text:5,video:1x4x6,text:3,video:1x4x6,text:4")[:, None]  # (3, 1, L)
    cos, sin = reference(torch.zeros(1), ids)
    dim = rotary_dim(config.head_dim, config.rope_parameters["partial_rotary_factor"])
    ours = v.rotary_tables(ids, dim, config.rope_parameters["rope_theta"], reference.mrope_section)
    assert dim == 64 and torch.equal(ours[0], cos) and torch.equal(ours[1], sin)


def test_backends_refuse_per_head_and_the_hf_backend_four_coordinates():
    from niah.backends.probe import ProbeBackend

    with pytest.raises(NiahError, match="per KV head; the probe applies one rotary table"):
        ProbeBackend().check_variants([resolve_variant("mhrope")])
    ProbeBackend().check_variants([resolve_variant("vrope")])  # four rows: fine on the probe


def test_train_refuses_per_head_in_one_line(tmp_path):
    res = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "m"), "--variants", "mhrope", "-q"])
    assert res.exit_code == 2 and "allocates frequencies per KV head" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "m").exists()


def test_circle_settings_act_exactly_when_the_circle_does():
    """radius and alpha move the positions once the circle is blended in (dff_rate < 1); at the
    pinned dff_rate 1 they could not, so they are refused there rather than ignored."""
    layout = "text:2,image:3x4,text:1"
    base = resolve_variant("circlerope:dff_rate=0").position_array(layout)
    assert not np.allclose(base, resolve_variant("circlerope:dff_rate=0,radius=4").position_array(layout))
    assert not np.allclose(base, resolve_variant("circlerope:dff_rate=0,alpha=0.2").position_array(layout))
    for spec in ("circlerope:radius=4", "circlerope:alpha=0.2", "circlerope:method=no_circle"):
        with pytest.raises(NiahError, match="changes nothing while the circle is off"):
            resolve_variant(spec)


@pytest.mark.parametrize("spec", ["videorope:delta=nan", "videorope:delta=inf", "hope:delta=-inf",
                                  "m-rope-time:tokens_per_second=nan", "mmrope:position_scale=[4,nan,8]"])
def test_non_finite_variant_options_are_refused(spec):
    with pytest.raises(NiahError, match="finite"):
        resolve_variant(spec)
