"""Lower-right causal SDPA for prefill chunks against an explicit mask, and inside the model
against transformers' own masked path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from niah.backends.hf import HFBackend
from niah.backends.hf import attention as attn
from niah.data.dataset import Dataset
from niah.sweep.plan import make_plan
from niah.tasks import TASKS


def masked_reference(q, k, v):
    """Query i of q sits at position kv − q + i and sees keys 0..kv − q + i: an explicit boolean mask."""
    q_len, kv_len = q.shape[2], k.shape[2]
    rep = q.shape[1] // k.shape[1]
    mask = torch.arange(kv_len)[None, :] <= torch.arange(q_len)[:, None] + (kv_len - q_len)
    out = F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), attn_mask=mask)
    return out.transpose(1, 2)


@pytest.mark.parametrize(("q_len", "kv_len"), [(1, 9), (6, 6), (5, 12), (16, 17), (3, 40)])
@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 4), (8, 2)])
def test_chunk_attention_equals_an_explicit_lower_right_mask(q_len, kv_len, heads, kv_heads):
    g = torch.Generator().manual_seed(q_len * 100 + kv_len)
    q = torch.randn(1, heads, q_len, 16, generator=g)
    k, v = (torch.randn(1, kv_heads, kv_len, 16, generator=g) for _ in range(2))
    out, weights = attn.chunked_causal_sdpa(None, q, k, v, None)
    assert weights is None and out.shape == (1, q_len, heads, 16)
    assert torch.allclose(out, masked_reference(q, k, v), atol=1e-6)


def test_more_queries_than_keys_is_refused():
    q, k = torch.zeros(1, 2, 5, 8), torch.zeros(1, 2, 3, 8)
    with pytest.raises(ValueError, match="5 queries but only 3 keys"):
        attn.chunked_causal_sdpa(None, q, k, k, None)


def test_small_chunks_give_the_logits_of_transformers_masked_path(tiny_checkpoints, short_dataset, monkeypatch):
    """7-token chunks (every chunk after the first has q < kv), ours vs transformers' stock sdpa, and
    ours never sees a mask: the model's mask builder is skipped."""
    seen_masks = []
    original = attn.chunked_causal_sdpa

    def spy(module, query, key, value, attention_mask, **kwargs):
        seen_masks.append(attention_mask)
        return original(module, query, key, value, attention_mask, **kwargs)

    monkeypatch.setattr(attn, "chunked_causal_sdpa", spy)
    ds = Dataset(short_dataset)
    logits = {}
    for implementation in ("sdpa", "sdpa-stock"):
        backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu", chunk_tokens=7,
                            attn_implementation=implementation)  # fmt: skip
        plan = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])[:2]
        backend._load(ds)
        backend._encode_frames(ds, plan)
        logits[implementation] = torch.stack([backend.logits(ds, s)[0] for s in plan])
        assert backend.runner.tokens_computed > 7 * 5
    assert seen_masks and all(m is None for m in seen_masks)
    assert torch.allclose(logits["sdpa"], logits["sdpa-stock"], atol=1e-5, rtol=0)


@pytest.mark.gpu
def test_on_cuda_a_7b_shaped_chunk_takes_the_flash_kernel():
    from torch.backends.cuda import SDPAParams, can_use_flash_attention

    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(1, 28, 2048, 128, device="cuda", dtype=torch.bfloat16, generator=g)
    k, v = (torch.randn(1, 4, 6144, 128, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(2))
    assert can_use_flash_attention(SDPAParams(q, k, v, None, 0.0, True, True), True)
    out, _ = attn.chunked_causal_sdpa(None, q, k, v, None)
    ref = masked_reference(q.float().cpu(), k.float().cpu(), v.float().cpu())
    assert (out.float().cpu() - ref).abs().max() < 2e-2
