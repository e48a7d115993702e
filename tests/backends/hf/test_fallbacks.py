"""No silent fallbacks (issue 14 item 3): a config without rope_theta and a tokenizer without a
chat template are refused in one line, never replaced by a guess."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf.rotary import layer_rope_settings
from niah.cli import main
from niah.errors import NiahError

from .conftest import FAMILIES


def test_rope_theta_is_read_never_guessed():
    text = dict(hidden_size=64, num_attention_heads=4, head_dim=16)
    given = SimpleNamespace(text_config=SimpleNamespace(**text, rope_parameters={"rope_theta": 5e6}))
    assert layer_rope_settings(given)[None].theta == 5e6
    legacy = SimpleNamespace(text_config=SimpleNamespace(**text, rope_parameters=None, rope_theta=1e6))
    assert layer_rope_settings(legacy)[None].theta == 1e6
    with pytest.raises(NiahError, match="gives no rope_theta"):
        layer_rope_settings(SimpleNamespace(text_config=SimpleNamespace(**text,
                                                                        rope_parameters={"rope_type": "default"})))


def test_rope_parameters_by_layer_type_are_read_per_type():
    """CohereCompass keys rope_parameters by layer type, None for its NoPE global layers; LFM3 gives
    its two attention layer types different θ, and its global ones transformers' 'proportional'
    type (the whole head's frequency ladder, half of its pairs rotating)."""
    text = dict(hidden_size=64, num_attention_heads=4, head_dim=16,
                layer_types=["conv", "sliding_attention", "full_attention"])  # fmt: skip
    sliding = {"rope_type": "default", "rope_theta": 5e4, "mrope_section": [2, 3, 3]}
    nope_global = {"sliding_attention": sliding, "full_attention": None}
    assert layer_rope_settings(SimpleNamespace(text_config=SimpleNamespace(**text, rope_parameters=nope_global))) == {
        "sliding_attention": (16, 5e4, [2, 3, 3], None)}
    lfm3 = {"sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
            "full_attention": {"rope_type": "proportional", "rope_theta": 1e6, "partial_rotary_factor": 0.5}}
    config = SimpleNamespace(text_config=SimpleNamespace(**text, rope_parameters=lfm3))
    assert layer_rope_settings(config) == {"full_attention": (16, 1e6, None, 0.5),
                                           "sliding_attention": (16, 1e4, None, None)}  # fmt: skip
    with pytest.raises(NiahError, match="with no rope_parameters"):
        layer_rope_settings(SimpleNamespace(text_config=SimpleNamespace(
            **text, rope_parameters={"sliding_attention": None, "full_attention": None})))
    with pytest.raises(NiahError, match="rope_type 'llama3' of this checkpoint is not supported"):
        layer_rope_settings(SimpleNamespace(text_config=SimpleNamespace(
            **text, rope_parameters={"sliding_attention": {"rope_type": "llama3", "rope_theta": 1e4}})))


def test_a_tokenizer_without_a_chat_template_is_refused(tiny_checkpoints, short_dataset, tmp_path):
    ckpt = shutil.copytree(tiny_checkpoints["qwen2_vl"], tmp_path / "bare")
    for path in ckpt.iterdir():
        if path.name.startswith("chat_template"):
            path.unlink()
    config = ckpt / "tokenizer_config.json"
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != "chat_template"}))
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{ckpt}", "--out", str(tmp_path / "o"),
                                    "--device", "cpu", "-q"])  # fmt: skip
    assert res.exit_code == 2 and "has no chat template" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_run_json_and_the_vision_cache_record_what_was_loaded(tiny_checkpoints, short_dataset, tmp_path):
    """dtype 'auto' is recorded as what it loads in, and an overwritten checkpoint gets a new
    vision cache (issue 14 item 6)."""
    import os

    import torch

    from niah.backends.hf import HFBackend
    from niah.data.dataset import Dataset

    ckpt = shutil.copytree(tiny_checkpoints["qwen2_vl"], tmp_path / "ckpt")
    backend = HFBackend(str(ckpt), dtype="auto", device="cpu")
    assert backend.config()["dtype"] == "float32"
    assert HFBackend(str(ckpt), dtype="bfloat16", device="cpu").config()["dtype"] == "bfloat16"
    dataset = Dataset(short_dataset)
    before = backend.vision_fingerprint(dataset)
    weights = next(ckpt.glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data)  # the same path, rewritten: another training run saved over it
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert HFBackend(str(ckpt), dtype="auto", device="cpu").vision_fingerprint(dataset) != before
    if not torch.cuda.is_available():
        res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{ckpt}", "--out",
                                        str(tmp_path / "o"), "--device", "cpu", "--limit", "1", "-q"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert json.loads((tmp_path / "o" / "run.json").read_text())["config"]["backend"]["dtype"] == "float32"


def test_dry_run_plans_memory_and_warns_when_the_longest_prompt_will_not_fit(tiny_checkpoints, short_dataset,
                                                                            tmp_path, monkeypatch):  # fmt: skip
    """KV bytes = 2 (K and V) × layers × KV heads × head_dim × tokens × bytes per value (issue 14)."""
    from niah.backends.hf import backend as hf_backend

    ckpt = tiny_checkpoints["qwen2_vl"]
    args = ["run", str(short_dataset), "--model", f"hf:{ckpt}", "--variants", "m-rope", "--out", str(tmp_path / "o"),
            "--device", "cpu", "--dtype", "float32", "--dry-run"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    text = json.loads((ckpt / "config.json").read_text())["text_config"]
    longest = int(next(x for x in res.output.splitlines() if x.startswith("tokens")).split()[-5].replace(",", ""))
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    kv = 2 * text["num_hidden_layers"] * text["num_key_value_heads"] * head_dim * longest * 4  # float32
    assert f"KV cache {kv / 2**20:.1f} MiB at {longest:,} tokens" in res.output
    assert "warning" not in res.output
    monkeypatch.setattr(hf_backend, "device_memory", lambda device: 2**18)  # a 0.25 MiB device
    res = CliRunner().invoke(main, args)
    assert "a smaller --chunk-tokens cannot shrink the" in res.output and "has 0.2 MiB" in res.output
    assert not (tmp_path / "o").exists()


def test_dry_run_counts_kv_only_for_full_attention_layers_of_a_hybrid_model(tiny_checkpoints, short_dataset, tmp_path):
    """Qwen3.5: its linear-attention layers keep a fixed-size state, not keys and values per token."""
    ckpt = tiny_checkpoints["qwen3_5"]
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{ckpt}", "--variants",
                                    "mrope-interleaved", "--out", str(tmp_path / "o"), "--device", "cpu", "--dtype",
                                    "float32", "--dry-run"])  # fmt: skip
    assert res.exit_code == 0, res.output
    text = json.loads((ckpt / "config.json").read_text())["text_config"]
    full = text["layer_types"].count("full_attention")
    assert 0 < full < text["num_hidden_layers"]
    longest = int(next(x for x in res.output.splitlines() if x.startswith("tokens")).split()[-5].replace(",", ""))
    kv = 2 * full * text["num_key_value_heads"] * text["head_dim"] * longest * 4  # float32
    assert f"KV cache {kv / 2**20:.1f} MiB at {longest:,} tokens" in res.output
    from niah.backends.hf.backend import kv_cache_bytes
    from niah.backends.hf.checkpoint import open_checkpoint

    text_config = open_checkpoint(str(ckpt)).config.text_config
    per_token = 2 * full * text["num_key_value_heads"] * text["head_dim"] * 2  # bfloat16
    assert kv_cache_bytes(text_config, 432_000, "bfloat16") == per_token * 432_000


def test_a_family_whose_rotary_changed_in_a_newer_transformers_is_refused_on_an_older_one(monkeypatch):
    """CohereCompass's rotary in transformers 5.17 (h/w pre-rotated, t on the lowest pairs, section
    [22, 22, 20]) is not 5.25's (Qwen3-VL's interleaving), which is what niah's native variant
    reproduces: on an older transformers the checkpoint is refused in one line, not run wrongly."""
    from niah.backends.hf.checkpoint import check_transformers
    from niah.model_families import MODEL_FAMILIES

    for name in ("cohere_compass", "qwen4_exp"):  # Qwen4-Exp: 5.17 has the family, but other layer types
        family = MODEL_FAMILIES[name]
        assert family.min_transformers == "5.25"
        with pytest.raises(NiahError, match=r"needs transformers >= 5\.25 .*installed: 5\.17\.0.*pip install"):
            check_transformers(family, "hf:x", installed="5.17.0")
        check_transformers(family, "hf:x", installed="5.25.0")  # no error
    check_transformers(MODEL_FAMILIES["qwen2_vl"], "hf:x", installed="5.17.0")


def test_a_sliding_window_layer_counts_its_window_in_the_kv_cache():
    """EXAONE 4.5's tiny config: a 6-token sliding layer and a global layer. The planner counted only
    the global layer; a sliding layer keeps at most its window of keys and values."""
    from niah.backends.hf.backend import _widths, kv_cache_bytes
    from niah.backends.hf.tiny import tiny_config

    text = tiny_config("exaone4_5").text_config
    assert text.layer_types == ["sliding_attention", "full_attention"] and text.sliding_window == 6
    _, kv = _widths(text)
    assert kv_cache_bytes(text, 1000, "bfloat16") == 2 * kv * (1000 + 6) * 2
    assert kv_cache_bytes(text, 4, "bfloat16") == 2 * kv * (4 + 4) * 2  # a prompt shorter than the window


def test_ovis_boundary_tokens_are_the_checkpoints_own_and_a_missing_one_is_refused():
    """Ovis2.5's video run is spelled by the tokens its tokenizer holds at the config's
    video_start / video_end ids (their published names were not reachable); a config pointing at
    no token of the tokenizer is refused in one line."""
    from niah.backends.hf.prompt import checkpoint_markup
    from niah.backends.hf.tiny import tiny_tokenizer
    from niah.model_families import VIDEO_MARKUPS

    tok = tiny_tokenizer()
    renamed = tok.convert_tokens_to_ids("<|vision_start|>"), tok.convert_tokens_to_ids("<|vision_end|>")
    config = SimpleNamespace(video_start_token_id=renamed[0], video_end_token_id=renamed[1])
    markup = checkpoint_markup(VIDEO_MARKUPS["ovis"], tok, config, "hf:x")
    assert markup.run == ("<|vision_start|>", "<|vision_end|>") and markup.pad == "<|video_pad|>"
    with pytest.raises(NiahError, match=r"hf:x's config.json sets video_end_token_id = 99999, which is no token"):
        checkpoint_markup(VIDEO_MARKUPS["ovis"], tok, SimpleNamespace(video_start_token_id=renamed[0],
                                                                      video_end_token_id=99999), "hf:x")  # fmt: skip
    assert checkpoint_markup(VIDEO_MARKUPS["qwen"], tok, config) is VIDEO_MARKUPS["qwen"]  # names its own tokens


@pytest.mark.skipif("lfm3_vl" not in FAMILIES, reason="LFM3-VL needs transformers >= 5.25")
def test_rotary_per_layer_type_and_a_type_it_cannot_tell():
    """LFM3's text model asks per layer type: the sliding layers' table at θ 1e4 turns every pair;
    the global layers' 'proportional' table turns only the first half of the pairs (cos 1, sin 0
    beyond). A model asking without a type, where the types differ, is refused, never guessed."""
    from niah.backends.hf.rotary import VariantRotary
    from niah.backends.hf.tiny import tiny_config
    from niah.rope import resolve_variant

    rotary = VariantRotary(resolve_variant("vanilla"), tiny_config("lfm3_vl"))
    assert rotary.layer_types == ["full_attention", "sliding_attention"]
    x, positions = torch.zeros(1, 5, 8), torch.arange(5)[None, None].expand(3, 1, 5)
    cos, sin = rotary(x, positions, "full_attention")  # (1, 5, 16): pairs i and i + 8
    assert torch.equal(cos[..., 4:8], torch.ones(1, 5, 4)) and torch.equal(sin[..., 12:], torch.zeros(1, 5, 4))
    assert not torch.equal(sin[0, 1:, :4], torch.zeros(4, 4))
    sliding_cos, sliding_sin = rotary(x, positions, "sliding_attention")
    assert not torch.equal(sliding_sin[0, 1:, 4:8], torch.zeros(4, 4))  # every pair turns there
    assert not torch.allclose(sliding_cos[..., :4], cos[..., :4])  # θ 1e4 against 1e6 (pair 0 alike)
    with pytest.raises(NiahError, match="cannot tell which of its layer types"):
        rotary(x, positions)


@pytest.mark.parametrize("family", ["qwen3_5", "qwen2_vl"])
def test_a_config_without_mrope_section_rotates_by_the_models_own_default(family):
    """transformers' rotary modules fall back to their own section when rope_parameters has none
    (Qwen3.5: [11, 11, 10] of 32 pairs; Qwen2-VL: [16, 24, 24] of 64). The native variant installed in
    the model's place must turn q and k as the model's own module does then, not by niah's default."""
    import transformers

    from niah.backends.hf.rotary import install
    from niah.backends.hf.tiny import tiny_config
    from niah.model_families import MODEL_FAMILIES
    from niah.rope import resolve_variant

    config = tiny_config(family)
    config.text_config.head_dim = 256 if family == "qwen3_5" else 128  # rotary pairs the defaults fit
    del config.text_config.rope_parameters["mrope_section"]
    model = transformers.AutoModelForImageTextToText.from_config(config)
    own = model.model.language_model.rotary_emb
    f = MODEL_FAMILIES[family]
    native = resolve_variant(f.native_variant)
    ids = native.position_ids("text:3,video:3x4x6,text:4")[:, None, :]  # (3, 1, L)
    x = torch.zeros(1)
    expected = own(x, ids)
    ours = install(model, native, f.pair_layout, f.section_order)(x, ids)
    assert torch.allclose(ours[0], expected[0], atol=1e-6) and torch.allclose(ours[1], expected[1], atol=1e-6)
