"""Attention at the answer (issue 31) on tiny hf checkpoints: what niah records from one query row
per layer, in small prefill chunks and with prefix reuse, equals the last row of transformers' own
eager attention over the whole prompt; the answers with --attention equal those without."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.backends.hf.attention import use_chunked_causal
from niah.cli import main
from niah.data.dataset import Dataset
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

FAMILIES = ["qwen2_vl", "qwen3_vl", "qwen3_5", "internvl", "llava_onevision"]
"""A contiguous video run, timestamped frames with deepstack, linear-attention layers, 1-D positions
and tiles, a learned vector after the frames."""


EAGER = "niah_test_eager_causal"


def eager_causal(module, query, key, value, attention_mask, **kwargs):
    """transformers' eager attention (matmul, softmax, the (L, L) weights returned) over the whole
    prompt with an explicit causal mask: registered under a name of its own, so every family takes
    it the same way (the model's mask builder is skipped, as for niah's own function)."""
    from transformers.models.qwen2.modeling_qwen2 import eager_attention_forward

    n = query.shape[2]
    causal = torch.full((n, n), float("-inf"), dtype=query.dtype).triu(1)[None, None]
    return eager_attention_forward(module, query, key, value, causal, **kwargs)


def eager_last_row(backend: HFBackend, ds: Dataset, sample) -> dict[int, torch.Tensor]:
    """layer → (heads, frames + 1): transformers' eager attention over the whole prompt at once (no
    cache), its last row summed per frame segment and over the text tokens, by walking the segments."""
    segments = backend.segments(ds, sample)
    total = sum(s.n for s in segments)
    embeds, kwargs = backend._embedder(segments)(0, total)
    from niah.backends.hf.prompt import layout_of

    positions = sample.variant.position_ids(layout_of(segments, backend.grid(ds), ds.options["fps"]))
    lm = backend.model.model.language_model
    backend.model.set_attn_implementation({"text_config": EAGER})
    try:
        with torch.no_grad():
            out = lm(inputs_embeds=embeds, position_ids=positions[:, None].to(torch.float64), use_cache=False,
                     output_attentions=True, **kwargs)  # fmt: skip
    finally:
        use_chunked_causal(backend.model)
    frames = sum(s.frame is not None for s in segments)
    rows = {}
    kinds = getattr(backend.ck.config.get_text_config(), "layer_types", None)  # Qwen3.5: full attention has weights
    layers = [i for i, k in enumerate(kinds) if k == "full_attention"] if kinds else range(len(out.attentions))
    for layer, weights in zip(layers, out.attentions, strict=True):
        last = weights[0, :, -1]  # (heads, total)
        mass = torch.zeros(last.shape[0], frames + 1)
        start, frame = 0, 0
        for seg in segments:
            column = frame if seg.frame is not None else frames
            mass[:, column] += last[:, start : start + seg.n].sum(-1)
            start += seg.n
            frame += seg.frame is not None
        rows[layer] = mass
    return rows


@pytest.fixture(scope="module", autouse=True)
def eager_registered():
    from transformers import AttentionInterface

    AttentionInterface.register(EAGER, eager_causal)


@pytest.mark.parametrize("family", FAMILIES)
def test_recorded_attention_equals_transformers_eager_attention(family, tiny_checkpoints, short_dataset, tmp_path):
    backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", device="cpu", chunk_tokens=16,
                        cache_dir=str(tmp_path))  # fmt: skip
    backend.record_attention("heads")
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah-d"]], [backend.native_variant], lengths=[3])[:3]
    results = list(backend.run(backend.order(plan), ds))
    assert backend.runner.tokens_computed < sum(backend.estimate_tokens(ds, s) for s in plan)  # a prefix was reused
    for result in results:
        assert not result.failed, result.error
        recorded = result.attention
        reference = eager_last_row(backend, ds, result.sample)
        assert recorded.layers == tuple(reference)
        expected = torch.stack([reference[i] for i in recorded.layers]).numpy()
        assert recorded.mass.shape == expected.shape
        assert abs(recorded.mass.sum(-1) - 1).max() < 1e-5
        assert abs(recorded.mass - expected).max() < 1e-5, (family, abs(recorded.mass - expected).max())


def test_eager_reference_sees_a_variant_move_attention(tiny_checkpoints, short_dataset, tmp_path):
    """The comparison above can fail: another variant's positions give other weights."""
    from dataclasses import replace

    from niah.rope import resolve_variant

    backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu", cache_dir=str(tmp_path))
    backend.record_attention("layers")
    ds = Dataset(short_dataset)
    (sample,) = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])[:1]
    other = replace(sample, variant=resolve_variant("vanilla"))
    native, moved = (r.attention.mass for r in backend.run([sample, other], ds))
    assert abs(native - moved).max() > 1e-4


def test_answers_with_attention_equal_those_without(tiny_checkpoints, short_dataset, tmp_path):
    runs = {}
    for name, extra in (("plain", []), ("attention", ["--attention"])):
        out = tmp_path / name
        res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen3_vl']}",
                                        "--variants", "mrope-interleaved,vanilla", "--tasks", "v-niah-d",
                                        "--device", "cpu", "--out", str(out), "-q", *extra])  # fmt: skip
        assert res.exit_code == 0, res.output
        runs[name] = {r["key"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert runs["plain"].keys() == runs["attention"].keys()
    for key, plain in runs["plain"].items():
        with_attention = runs["attention"][key]
        assert with_attention["metrics"] == plain["metrics"]
        assert with_attention["scores"]["option_logprobs"] == plain["scores"]["option_logprobs"]
    attention = [json.loads(x) for x in (tmp_path / "attention" / "attention.jsonl").read_text().splitlines()]
    assert {a["key"] for a in attention} == runs["attention"].keys()
    assert not (tmp_path / "plain" / "attention.jsonl").exists()


def test_attention_needs_niahs_sdpa(tiny_checkpoints, short_dataset, tmp_path):
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen2_vl']}",
                                    "--attn-implementation", "eager", "--attention", "--device", "cpu",
                                    "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 2 and "--attention is recorded by niah's sdpa attention" in res.output
    assert not (tmp_path / "r").exists()
