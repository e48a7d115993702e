"""The study's variants (issue 13) through the hf backend on a tiny Qwen2-VL: every variant of
three coordinate rows and one shared table runs; the per-head and four-coordinate ones are refused."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.cli import main
from niah.data.dataset import Dataset
from niah.rope import VARIANTS, resolve_variant
from niah.sweep.plan import make_plan
from niah.sweep.tasks import TASKS

RUNNABLE = [n for n in VARIANTS if not resolve_variant(n).per_head and resolve_variant(n).axes == ("t", "h", "w")]


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


@pytest.mark.parametrize("variant,message", [
    ("mhrope", "allocates frequencies per KV head; the hf backend"),
    ("vrope", "gives 4 coordinates per token (p0, p1, p2, p3)"),
])  # fmt: skip
def test_hf_refuses_what_one_three_row_table_cannot_hold(variant, message, tiny_checkpoints, short_dataset, tmp_path):
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen2_vl']}",
                                    "--variants", variant, "--out", str(tmp_path / "r"), "--device", "cpu", "-q"])
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "r").exists()
