"""Qwen4-Exp's sparse indexer (QSA) on its tiny checkpoint, whose indexer keeps 64 tokens of 4-token
blocks per query: what niah records of its selection at the answer equals what the unmodified model
selects; the indexer rotates with the variant niah installs; its layers count in the KV cache; the
options it cannot run with are refused in one line; its per-layer n-gram embeddings get the token
ids from niah, never by reversing the embedding."""

from __future__ import annotations

import pytest
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

pytestmark = pytest.mark.skipif("qwen4_exp" not in FAMILIES, reason="Qwen4-Exp needs transformers >= 5.25")


def _backend(tiny_checkpoints, tmp_path, **options) -> HFBackend:
    return HFBackend(str(tiny_checkpoints["qwen4_exp"]), dtype="float32", device="cpu", cache_dir=str(tmp_path),
                     **options)  # fmt: skip


def _loaded(tiny_checkpoints, dataset, tmp_path, variants=None, lengths=(3,)):
    backend = _backend(tiny_checkpoints, tmp_path)
    ds = Dataset(dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], variants or [backend.native_variant], lengths=list(lengths))
    backend._load(ds)
    backend._encode_frames(ds, plan)
    return backend, ds, plan


def test_recorded_needle_share_is_the_unmodified_models_own_selection(tiny_checkpoints, short_dataset, tmp_path):
    backend, ds, plan = _loaded(tiny_checkpoints, short_dataset, tmp_path)
    selections: dict[int, torch.Tensor] = {}

    def capture(module, args, output):  # every module's forward: keep the indexers' last query row
        if type(module).__name__.endswith("QSAIndexer"):
            selections[module.layer_idx] = output[0, 0, -1]

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
        expected = {str(layer): float(row[needle_mask].float().mean()) for layer, row in selections.items()}
        assert list(ours) == ["1"] and ours == pytest.approx(expected, abs=1e-6)
        strictly_between |= 0 < ours["1"] < 1
    assert strictly_between  # the indexer drops some of the needle's tokens: the measure is not trivial


def test_the_indexer_rotates_with_the_variant_niah_installs(tiny_checkpoints, short_dataset, tmp_path):
    """The indexer's queries and block keys turn by the cos/sin handed to its layer: under vanilla
    they are vanilla's tables at vanilla's positions for the whole prompt, not the model's M-RoPE."""
    from niah.backends.hf.backend import layout_of
    from niah.backends.hf.rotary import VariantRotary

    vanilla = resolve_variant("vanilla")
    backend, ds, plan = _loaded(tiny_checkpoints, short_dataset, tmp_path, variants=[vanilla])
    seen = []
    indexer = backend.model.model.language_model.layers[1].self_attn.indexer
    handle = indexer.register_forward_pre_hook(lambda m, args, kwargs: seen.append(args[1][0]), with_kwargs=True)
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


def test_every_sample_records_the_indexers_needle_share(tiny_checkpoints, short_dataset, tmp_path):
    backend, ds, plan = _loaded(tiny_checkpoints, short_dataset, tmp_path)
    results = list(backend.run(plan[:4], ds))
    assert len(results) == 4 and not any(r.failed for r in results)
    for result in results:
        share = result.scores["indexer_needle"]
        assert list(share) == ["1"] and 0 <= share["1"] <= 1


def test_its_per_layer_embeddings_get_token_ids_never_a_reversed_embedding(tiny_checkpoints, short_dataset, tmp_path,
                                                                           monkeypatch):  # fmt: skip
    """transformers reverses inputs_embeds to ids when none are given, which fails on vision tokens;
    niah passes the prompt's ids (the video pad at vision tokens) to prefill and scoring alike."""
    backend, ds, plan = _loaded(tiny_checkpoints, short_dataset, tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("reverse_embedding called")

    monkeypatch.setattr(type(backend.model.model.language_model), "reverse_embedding", refuse)
    results = list(backend.run(plan[:2], ds))  # prefill, the options teacher-forced, a greedy generation
    assert [r.error for r in results] == [None, None]


def test_indexed_layers_keep_every_tokens_keys_in_the_kv_cache():
    text = tiny_config("qwen4_exp").text_config
    assert text.layer_types == ["linear_attention", "indexed_attention"]
    kv = text.num_key_value_heads * text.head_dim
    assert full_attention_layers(text) == 1
    assert kv_cache_bytes(text, 1000, "bfloat16") == 2 * kv * 1000 * 2


def test_it_loads_on_transformers_sdpa_and_refuses_what_needs_niahs_kernel(tiny_checkpoints, short_dataset, tmp_path):
    backend, _, _ = _loaded(tiny_checkpoints, short_dataset, tmp_path)
    assert backend.options["attn_implementation"] == "sdpa-stock"
    assert backend.model.config.get_text_config()._attn_implementation == "sdpa"  # not niah's chunked kernel
    with pytest.raises(NiahError, match="flash_attention_2 does not build"):
        _backend(tiny_checkpoints, tmp_path, attn_implementation="flash_attention_2")
    args = ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen4_exp']}", "--device", "cpu",
            "--variants", "mrope-interleaved", "--attention", "--out", str(tmp_path / "r")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "sparse indexer reads the attention mask" in res.output
    assert not (tmp_path / "r").exists()
