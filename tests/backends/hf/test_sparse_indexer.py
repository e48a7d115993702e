"""The sparse indexers of Qwen4-Exp (QSA: 64 tokens of 4-token blocks a query on its tiny checkpoint)
and HY-V4-VL (DSA: the top 64 keys a query, its second layer sharing the first's choice): what niah
records of their selection at the answer equals what the unmodified model selects; they rotate with
the variant niah installs; their layers count in the KV cache; the options they cannot run with are
refused in one line; Qwen4-Exp's per-layer n-gram embeddings get the token ids from niah, never by
reversing the embedding."""

from __future__ import annotations

import statistics

import pytest
import scipy.stats
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.backends.hf.backend import full_attention_layers, kv_cache_bytes
from niah.backends.hf.tiny import tiny_config
from niah.cli import main
from niah.data.dataset import Dataset
from niah.errors import NiahError
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

from .conftest import FAMILIES
from .test_equality import official_logits

INDEXED = {"qwen4_exp": ("QSAIndexer", 1), "hy_v4_vl": ("VLIndexer", 2)}
"""Family → (its indexer class's name ends with, the index of position_embeddings in its forward's arguments)."""
FAMILY = pytest.mark.parametrize(
    "family", [pytest.param(f, marks=pytest.mark.skipif(f not in FAMILIES, reason="needs transformers >= 5.25"))
               for f in INDEXED])  # fmt: skip


def _backend(family, tiny_checkpoints, tmp_path, **options) -> HFBackend:
    return HFBackend(str(tiny_checkpoints[family]), dtype="float32", device="cpu", cache_dir=str(tmp_path),
                     **options)  # fmt: skip


def _loaded(family, tiny_checkpoints, dataset, tmp_path, variants=None):
    backend = _backend(family, tiny_checkpoints, tmp_path)
    ds = Dataset(dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], variants or [backend.native_variant], lengths=[3])
    backend._load(ds)
    backend._encode_frames(ds, plan)
    return backend, ds, plan


def _last_row(output: torch.Tensor, keys: int) -> torch.Tensor:
    """The last query's selection as a (keys,) bool mask: from Qwen4-Exp's (B, 1, q, kv) mask or from
    HY-V4-VL's (B, q, top-k) indices."""
    if output.dtype == torch.bool:
        return output[0, 0, -1]
    mask = torch.zeros(keys, dtype=torch.bool)
    mask[output[0, -1].long()] = True
    return mask


@FAMILY
def test_recorded_needle_share_is_the_unmodified_models_own_selection(family, tiny_checkpoints, short_dataset,
                                                                      tmp_path):  # fmt: skip
    backend, ds, plan = _loaded(family, tiny_checkpoints, short_dataset, tmp_path)
    suffix = INDEXED[family][0]
    outputs: dict[int, torch.Tensor] = {}

    def capture(module, args, output):  # every module's forward: keep the indexers' outputs
        if type(module).__name__.endswith(suffix):
            outputs[module.layer_idx] = output

    strictly_between = False
    for sample in plan[:3]:
        segments = backend.segments(ds, sample)
        backend.logits(ds, sample, segments=segments)
        ours = backend.indexer_needle(ds, sample, segments)
        handle = torch.nn.modules.module.register_module_forward_hook(capture)
        try:
            official_logits(backend, ds, sample)  # input_ids through the model's own forward
        finally:
            handle.remove()
        refs, frame, needle = sample.frames(ds), 0, []
        for seg in segments:  # the prompt's tokens that belong to a needle frame, in the model's input_ids
            is_needle = seg.frame is not None and refs[frame].kind == "needle"
            needle += [is_needle] * seg.n
            frame += seg.frame is not None
        needle_mask = torch.tensor(needle)
        expected = {str(layer): float(_last_row(out, len(needle))[needle_mask].float().mean())
                    for layer, out in outputs.items()}  # fmt: skip
        assert list(ours) == ["0" if family == "hy_v4_vl" else "1"] and ours == pytest.approx(expected, abs=1e-6)
        strictly_between |= all(0 < share < 1 for share in ours.values())
    assert strictly_between  # the indexer drops some of the needle's tokens: the measure is not trivial


@FAMILY
def test_the_indexer_rotates_with_the_variant_niah_installs(family, tiny_checkpoints, short_dataset, tmp_path):
    """The indexer's queries and keys turn by the cos/sin handed to its layer: under vanilla they
    are vanilla's tables at vanilla's positions for the whole prompt, not the model's own."""
    from niah.backends.hf.backend import layout_of
    from niah.backends.hf.rotary import VariantRotary

    vanilla = resolve_variant("vanilla")
    backend, ds, plan = _loaded(family, tiny_checkpoints, short_dataset, tmp_path, variants=[vanilla])
    seen = []
    indexer = backend.model.model.language_model.layers[-1 if family == "qwen4_exp" else 0].self_attn.indexer
    where = INDEXED[family][1]
    handle = indexer.register_forward_pre_hook(lambda m, args, kwargs: seen.append(args[where][0]), with_kwargs=True)
    try:
        segments = backend.segments(ds, plan[0])
        backend.logits(ds, plan[0], segments=segments)
    finally:
        handle.remove()
    layout = layout_of(segments, backend.grid(ds), ds.options["fps"])

    def cos_of(variant):
        return VariantRotary(variant, backend.ck.config)(torch.zeros(1), variant.position_ids(layout)[:, None])[0]

    cos = cos_of(vanilla)
    assert len(seen) == 1 and seen[0].shape == cos.shape and torch.allclose(seen[0], cos)
    assert not torch.allclose(seen[0], cos_of(backend.native_variant))


@FAMILY
def test_every_sample_records_the_indexers_needle_share(family, tiny_checkpoints, short_dataset, tmp_path):
    backend, ds, plan = _loaded(family, tiny_checkpoints, short_dataset, tmp_path)
    results = list(backend.run(plan[:4], ds))
    assert len(results) == 4 and not any(r.failed for r in results)
    for result in results:
        share = result.scores["indexer_needle"]
        assert len(share) == 1 and all(0 <= v <= 1 for v in share.values())


@pytest.mark.skipif("qwen4_exp" not in FAMILIES, reason="needs transformers >= 5.25")
def test_its_per_layer_embeddings_get_token_ids_never_a_reversed_embedding(tiny_checkpoints, short_dataset, tmp_path,
                                                                           monkeypatch):  # fmt: skip
    """transformers reverses inputs_embeds to ids when none are given, which fails on vision tokens;
    niah passes the prompt's ids (the video pad at vision tokens) to prefill and scoring alike."""
    backend, ds, plan = _loaded("qwen4_exp", tiny_checkpoints, short_dataset, tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("reverse_embedding called")

    monkeypatch.setattr(type(backend.model.model.language_model), "reverse_embedding", refuse)
    results = list(backend.run(plan[:2], ds))  # prefill, the options teacher-forced, a greedy generation
    assert [r.error for r in results] == [None, None]


@pytest.mark.skipif("qwen4_exp" not in FAMILIES, reason="needs transformers >= 5.25")
def test_indexed_layers_keep_every_tokens_keys_in_the_kv_cache():
    text = tiny_config("qwen4_exp").text_config
    assert text.layer_types == ["linear_attention", "indexed_attention"]
    kv = text.num_key_value_heads * text.head_dim
    assert full_attention_layers(text) == 1
    assert kv_cache_bytes(text, 1000, "bfloat16") == 2 * kv * 1000 * 2


@pytest.mark.skipif("hy_v4_vl" not in FAMILIES, reason="needs transformers >= 5.25")
def test_an_mla_cache_holds_its_latent_and_rotated_key_a_token(tiny_checkpoints, short_dataset, tmp_path):
    """HY-V4-VL's cache keeps, per layer and token, the kv_lora_rank latent and the qk_rope_head_dim
    rotated key, not keys and values per head: the planner counts what a prefill really stores."""
    backend, ds, plan = _loaded("hy_v4_vl", tiny_checkpoints, short_dataset, tmp_path)
    backend.logits(ds, plan[0])
    cache = backend.runner.cache
    text = backend.ck.config.text_config
    tokens = cache.get_seq_length()
    stored = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    assert kv_cache_bytes(text, tokens, "float32") == stored
    assert stored == 2 * tokens * (text.kv_lora_rank + text.qk_rope_head_dim) * 4  # 2 layers, float32


@FAMILY
def test_it_loads_on_the_attention_it_needs_and_refuses_what_needs_niahs_kernel(family, tiny_checkpoints,
                                                                                short_dataset, tmp_path):  # fmt: skip
    needed, loaded = {"qwen4_exp": ("sdpa-stock", "sdpa"), "hy_v4_vl": ("eager", "eager")}[family]
    backend, _, _ = _loaded(family, tiny_checkpoints, short_dataset, tmp_path)
    assert backend.options["attn_implementation"] == needed
    assert backend.model.config.get_text_config()._attn_implementation == loaded  # not niah's chunked kernel
    with pytest.raises(NiahError, match="not flash_attention_2"):
        _backend(family, tiny_checkpoints, tmp_path, attn_implementation="flash_attention_2")
    args = ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints[family]}", "--device", "cpu",
            "--variants", backend.native_variant.spec, "--attention", "--out", str(tmp_path / "r")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and backend.ck.family.why_text_attention in res.output
    assert "drop --attention" in res.output and not (tmp_path / "r").exists()


@pytest.mark.skipif("qwen4_exp" not in FAMILIES, reason="needs transformers >= 5.25")
def test_a_runs_summary_counts_the_indexer_misses_among_wrong_answers(tiny_checkpoints, short_dataset, tmp_path):
    """summary.json's `indexer` block is what results.jsonl's per-sample shares say: a needle no
    indexed layer selected is an indexer miss, and a wrong answer with such a needle is counted
    apart from one that had the needle in view."""
    import json

    out = tmp_path / "run"
    args = ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen4_exp']}", "--device", "cpu", "--dtype",
            "float32", "--variants", "mrope-interleaved", "--tasks", "v-niah", "--out", str(out)]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    (group,) = json.loads((out / "summary.json").read_text())["groups"]
    missed = [not any(r["scores"]["indexer_needle"].values()) for r in rows]
    wrong = [not r["correct"] for r in rows]
    assert group["indexer"]["samples"] == len(rows) > 0
    assert group["indexer"]["unselected"] == sum(missed) > 0  # the tiny indexer misses some needles
    assert group["indexer"]["wrong"] == sum(wrong)
    assert group["indexer"]["wrong_unselected"] == sum(m and w for m, w in zip(missed, wrong, strict=True))
    shares = [sum(r["scores"]["indexer_needle"].values()) / len(r["scores"]["indexer_needle"]) for r in rows]
    assert group["indexer"]["needle_share"] == pytest.approx(sum(shares) / len(shares), abs=1e-4)
    # its 95 % interval: Student's t over the needles' mean shares, as attention's needle mass
    by_needle: dict[str, list[float]] = {}
    for r, share in zip(rows, shares, strict=True):
        by_needle.setdefault(str(r["needle"]), []).append(share)
    means = [sum(v) / len(v) for v in by_needle.values()]
    centre, spread = sum(shares) / len(shares), statistics.stdev(means) / len(means) ** 0.5
    half = scipy.stats.t.ppf(0.975, len(means) - 1) * spread
    low, high = group["indexer"]["needle_share_ci"]
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-4) and high == pytest.approx(min(1.0, centre + half),
                                                                                             abs=1e-4)  # fmt: skip
    assert low < group["indexer"]["needle_share"] < high


@pytest.mark.skipif("qwen4_exp" not in FAMILIES, reason="needs transformers >= 5.25")
def test_a_sample_without_a_needle_frame_runs_and_records_no_share(tiny_checkpoints, tmp_path):
    """Counting asks "how many frames show X?" with 0 a possible answer: such a prompt has no needle
    frame, so there is no share to record, and the sample still runs."""
    from niah.data.generate import generate, resolve_config

    config = resolve_config("demo", lengths="8", depths="0,100", needles=8, distractor_period=4, tasks="counting")
    ds = Dataset(generate(tmp_path / "counting", config))
    backend = _backend("qwen4_exp", tiny_checkpoints, tmp_path)
    plan = make_plan(ds, [TASKS["counting"]], [backend.native_variant])
    needles = [sum(ref.kind == "needle" for ref in s.frames(ds)) for s in plan]
    chosen = [plan[needles.index(0)], plan[needles.index(max(needles))]]  # none, and the most
    results = list(backend.run(chosen, ds))
    assert [r.error for r in results] == [None, None]
    by_needles = {sum(ref.kind == "needle" for ref in r.sample.frames(ds)): r.scores for r in results}
    assert "indexer_needle" not in by_needles[0] and "indexer_needle" in by_needles[max(needles)]
