"""Causal attention for chunked prefill without a materialised mask.

A prefill chunk of q tokens on top of a cache of c tokens attends to kv = c + q keys: query i
sits at position c + i and sees keys 0..c+i. That is SDPA's *lower-right* causal alignment.
transformers' stock sdpa path cannot say so (its `is_causal` is upper-left), so for q < kv it
builds a (q, kv) boolean mask and SDPA falls back to a masked kernel (1.3× slower at 64K tokens,
measured by niah's developers on one H100 with transformers 5.17 and torch's flash SDPA; not
reproduced on this project's CPU machines: `scripts/gpu_check.sh bench` measures it). `chunked_causal_sdpa` passes
`torch.nn.attention.bias.causal_lower_right(q, kv)` instead, which SDPA dispatches to the flash
kernel on CUDA (grouped-query heads unrepeated); elsewhere torch materialises the same mask.

`use_chunked_causal(model)` switches the language model to it; the vision tower keeps sdpa.
The model's mask builder is skipped for an attention name it does not know, so no (q, kv) mask
is ever built. Batch 1, no padding: the prompts niah runs.

With `niah run --attention` the forward of a prompt's last chunk reports the last query and the
layer's keys to the armed recorder (niah.answer_attention) before attending as usual.

A sliding-window layer (its module's `sliding_window`) gets an explicit (q, kv) mask
(`sliding_causal`): its cache returns the keys it kept plus the chunk's, and each query sees the
last `window` of them up to itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from niah import answer_attention

NAME = "niah_chunked_sdpa"
"""The name registered in transformers' AttentionInterface."""


def chunked_causal_sdpa(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                        attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                        **kwargs) -> tuple[torch.Tensor, None]:  # fmt: skip
    """query (B, H, q, D), key/value (B, H_kv, kv, D), kv ≥ q (the last q keys are the query's own
    tokens) → attention output (B, q, H, D), lower-right causal."""
    if attention_mask is not None:  # a caller-built mask (padding): transformers' general path
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)  # fmt: skip
    q_len, kv_len = query.shape[2], key.shape[2]
    if q_len > kv_len:
        raise ValueError(f"{q_len} queries but only {kv_len} keys: the keys must include the queries' own tokens")
    options = {"scale": scaling, "dropout_p": dropout, "enable_gqa": query.shape[1] != key.shape[1]}
    # the layer's call says whether it slides (EXAONE-4's global layers keep the config's window as an
    # attribute and pass sliding_window=None); the module's attribute only where the call is silent
    window = kwargs["sliding_window"] if "sliding_window" in kwargs else getattr(module, "sliding_window", None)
    if window:  # a sliding-window layer: its cache kept the last keys only, the mask says which each query sees
        mask = sliding_causal(q_len, kv_len, window, query.device)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, **options).transpose(1, 2), None
    if (recorder := answer_attention.active()) is not None:  # the last query row sees every key
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        recorder.observe(getattr(module, "layer_idx", None), query[0, :, -1], key[0], scale)
    if q_len == 1:  # one new token sees every key
        out = F.scaled_dot_product_attention(query, key, value, **options)
    elif q_len == kv_len:  # empty cache: the plain causal kernel
        out = F.scaled_dot_product_attention(query, key, value, is_causal=True, **options)
    else:
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=causal_lower_right(q_len, kv_len), **options)
    return out.transpose(1, 2).contiguous(), None


def sliding_causal(q_len: int, kv_len: int, window: int, device=None) -> torch.Tensor:
    """(q, kv) bool: query i (the (kv − q + i)-th of the keys) sees key j when j ≤ kv − q + i and
    j > kv − q + i − window — transformers' sliding-window rule (a key at most window − 1 tokens
    back), whatever the cache dropped before the kv keys it returned."""
    offset = kv_len - q_len
    i = torch.arange(q_len, device=device)[:, None] + offset
    j = torch.arange(kv_len, device=device)[None, :]
    return (j <= i) & (j > i - window)


def register() -> str:
    """Register `chunked_causal_sdpa` with transformers (idempotent); returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, chunked_causal_sdpa)
    return NAME


def use_chunked_causal(model) -> None:
    """Run the model's language model on `chunked_causal_sdpa` (the vision tower is left alone)."""
    model.set_attn_implementation({"text_config": register()})
