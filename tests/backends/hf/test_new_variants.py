"""The study's variants (issue 13) through the hf backend on tiny checkpoints: every variant of
three coordinate rows runs, mhrope per KV head on a GQA checkpoint; four coordinates are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.cli import main
from niah.data.dataset import Dataset
from niah.rope import VARIANTS, RopeVariant, resolve_variant
from niah.rope import positions as pos
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

RUNNABLE = [n for n in VARIANTS if not resolve_variant(n).per_head and resolve_variant(n).axes == ("t", "h", "w")]
# mhrope needs a checkpoint with its KV head count: test_mhrope_runs_per_kv_head_in_the_hf_backend


def test_every_shared_three_row_variant_reaches_attention(tiny_checkpoints, short_dataset, tmp_path):
    backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu", cache_dir=str(tmp_path))
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], [resolve_variant(n) for n in RUNNABLE], lengths=[3])
    backend.check_variants([s.variant for s in plan])
    backend._load(ds)
    backend._encode_frames(ds, plan)
    first = plan[0].cell.id
    logits = {s.variant.name: backend.logits(ds, s)[0] for s in plan if s.cell.id == first}
    assert set(logits) == set(RUNNABLE) >= {"circlerope", "v2pe", "ilrope", "omnirope", "mmrope", "grape"}
    assert all(torch.isfinite(x).all() for x in logits.values())
    # canonical GRAPE with chunked planes and log_freq_scale 1 is M-RoPE: the same logits
    assert torch.equal(logits["grape"], logits["m-rope"])
    for name in ("circlerope", "v2pe", "ilrope", "omnirope", "mmrope"):
        assert (logits[name] - logits["m-rope"]).abs().max() > 1e-5, name  # ≫ float32 noise (grape: 0)


def test_hf_refuses_four_coordinates(tiny_checkpoints, short_dataset, tmp_path):
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen2_vl']}",
                                    "--variants", "vrope", "--out", str(tmp_path / "r"), "--device", "cpu", "-q"])
    assert res.exit_code == 2 and "gives 4 coordinates per token (p0, p1, p2, p3)" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def gqa_checkpoint(tmp_path_factory):
    """A tiny Qwen3-VL with 4 query heads over 2 KV heads (the shared tiny models have 1 KV head)."""
    from tiny_qwen import tiny_config

    from niah.backends.hf.tiny import save_checkpoint

    config = tiny_config("qwen3_vl")
    config.text_config.num_attention_heads, config.text_config.num_key_value_heads = 4, 2
    return save_checkpoint(tmp_path_factory.mktemp("gqa") / "qwen3_vl", config)


def reference(axis: int) -> RopeVariant:
    """mhrope's placement (spatial reset, int64) with every head's pairs on one axis: what mhrope
    must give when all its KV heads rotate by that axis."""
    return RopeVariant(f"all-{axis}", {}, "mrope", "cycle", pos.unit_spacing, "none",
                       placement_options={"spatial_reset": True}, allocation_options={"pattern": (axis,)},
                       truncate=True)  # fmt: skip


def test_mhrope_runs_per_kv_head_in_the_hf_backend(gqa_checkpoint, short_dataset, tmp_path):
    """Each query head rotates with its KV head's table: with every KV head on t (or on h) mhrope
    gives exactly the logits of the same placement with every pair on t (or h); a split over the
    two KV heads differs from both."""
    backend = HFBackend(str(gqa_checkpoint), dtype="float32", device="cpu", cache_dir=str(tmp_path))
    ds = Dataset(short_dataset)
    specs = ["mhrope:num_key_value_heads=2,mrope_section=[2,0,0]", "mhrope:num_key_value_heads=2,mrope_section=[0,2,0]",
             "mhrope:num_key_value_heads=2,mrope_section=[1,1,0]"]  # fmt: skip
    variants = [resolve_variant(v) for v in specs] + [reference(0), reference(1)]
    backend.check_variants(variants[:3])
    plan = make_plan(ds, [TASKS["v-niah"]], variants[:3], lengths=[3])
    backend._load(ds)
    backend._encode_frames(ds, plan)
    sample = plan[0]
    logits = {}
    for v in variants:
        logits[v.label] = backend.logits(ds, replace(sample, variant=v))[0]
    t_only, h_only, split = (logits[v.label] for v in variants[:3])
    assert torch.allclose(t_only, logits["all-0"], atol=1e-6) and torch.allclose(h_only, logits["all-1"], atol=1e-6)
    assert (split - t_only).abs().max() > 1e-5 and (split - h_only).abs().max() > 1e-5


def test_mhrope_with_another_kv_head_count_is_refused(gqa_checkpoint, short_dataset, tmp_path):
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{gqa_checkpoint}", "--variants",
                                    "mhrope", "--out", str(tmp_path / "r"), "--device", "cpu", "-q"])  # fmt: skip
    assert res.exit_code == 2 and "allocates 8 KV heads but qwen3_vl's text model has 2" in res.output, res.output
    assert "mhrope:num_key_value_heads=2,mrope_section=[t,h,w]" in res.output and not (tmp_path / "r").exists()


def test_query_heads_follow_their_kv_head_and_only_the_rotary_dims_turn():
    """apply_per_kv_head against a loop over heads with niah.rope's apply_rotary: query head j of
    4 uses KV head j // 2 (transformers' repeat_kv grouping); dims past the tables' 8 pass through."""
    from niah.backends.hf.rotary import apply_per_kv_head
    from niah.rope import apply_rotary

    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 4, 5, 16, generator=g), torch.randn(1, 2, 5, 16, generator=g)
    cos, sin = torch.randn(1, 2, 5, 8, generator=g), torch.randn(1, 2, 5, 8, generator=g)
    q_out, k_out = apply_per_kv_head(q, k, cos, sin)
    for j in range(4):
        expected, _ = apply_rotary(q[:, j, :, :8], q[:, j, :, :8], cos[:, j // 2], sin[:, j // 2])
        assert torch.allclose(q_out[:, j, :, :8], expected) and torch.equal(q_out[:, j, :, 8:], q[:, j, :, 8:])
    for h in range(2):
        _, expected = apply_rotary(k[:, h, :, :8], k[:, h, :, :8], cos[:, h], sin[:, h])
        assert torch.allclose(k_out[:, h, :, :8], expected)
