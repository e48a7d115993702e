"""flash_attention_2 and Qwen3-VL's position ids (issue 14 item 7).

transformers' FA2 path reads the `position_ids` its attention function is given and takes any
sequence that is not one arange for packed sequences (`_is_packed_sequence`), attending within each
piece only. Qwen3-VL's text-position row is not an arange in a timestamped video prompt. niah
passes its positions as the three M-RoPE rows only, so the language model hands the attention no
position ids at all. This test records what attention receives, through transformers'
AttentionInterface (the hook FA2 is called through), over chunked prefills and answer scoring,
and asks transformers' own detector about it. That flash-attn then runs lower-right causal
chunks is a GPU check (the gpu test below, run by scripts/gpu_check.sh)."""

from __future__ import annotations

import pytest
import torch

from niah.backends.hf import HFBackend
from niah.backends.hf.prompt import layout_of
from niah.data.dataset import Dataset
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS


def test_attention_is_never_given_positions_that_read_as_packed_sequences(tiny_checkpoints, grid_dataset, tmp_path):
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.modeling_flash_attention_utils import _is_packed_sequence

    seen: list[torch.Tensor | None] = []

    def recording(module, query, key, value, attention_mask, **kwargs):
        seen.append(kwargs.get("position_ids"))
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)

    AttentionInterface.register("niah_test_recording", recording)
    backend = HFBackend(str(tiny_checkpoints["qwen3_vl"]), device="cpu", attn_implementation="eager",
                        chunk_tokens=64, cache_dir=str(tmp_path))  # fmt: skip
    ds = Dataset(grid_dataset)
    retrieval = [TASKS["v-niah"], TASKS["v-niah-d"]]
    plan = make_plan(ds, retrieval, [backend.native_variant, resolve_variant("videorope")])[:6]
    backend._load(ds)
    backend.model.set_attn_implementation({"text_config": "niah_test_recording"})
    results = list(backend.run(plan, ds))
    assert all(r.error is None for r in results)
    assert len(seen) > 2 * len(plan)  # chunks × layers and the scored answers all went through the hook

    # the premise: this prompt's own text row is not one arange, so passing it would split attention
    segments = backend.segments(ds, plan[0])
    text_row = backend.native_variant.position_ids(layout_of(segments, backend.grid(ds), ds.options["fps"]))[0]
    assert _is_packed_sequence(text_row[None], batch_size=1)
    assert not any(p is not None and _is_packed_sequence(p, batch_size=1) for p in seen)


@pytest.mark.gpu
def test_flash_attention_2_answers_as_sdpa_on_qwen3_vl(tiny_checkpoints, grid_dataset, tmp_path):
    """On a GPU with flash-attn installed: chunked prefill through FA2 (lower-right causal chunks on
    a cache) gives the answers of niah's SDPA path, bf16."""
    pytest.importorskip("flash_attn", exc_type=ImportError)
    ds = Dataset(grid_dataset)
    scores = {}
    for attn in ("sdpa", "flash_attention_2"):
        backend = HFBackend(str(tiny_checkpoints["qwen3_vl"]), device="cuda", dtype="bfloat16",
                            attn_implementation=attn, chunk_tokens=256, cache_dir=str(tmp_path / attn))  # fmt: skip
        plan = make_plan(ds, [TASKS["v-niah"], TASKS["v-niah-d"]], [backend.native_variant])[:12]
        scores[attn] = [r.scores["option_logprobs"] for r in backend.run(plan, ds)]
    for ours, flash in zip(scores["sdpa"], scores["flash_attention_2"], strict=True):
        assert ours.keys() == flash.keys()
        assert max(abs(ours[k] - flash[k]) for k in ours) < 0.1
