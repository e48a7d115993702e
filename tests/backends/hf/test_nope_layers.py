"""`+nope:every=K` (CohereCompass's NoPE global layers as a modifier of any variant) on the hf
backend: with every layer NoPE the logits are those of a variant that rotates no pair at all
(`+p` below one pair), and with every other layer NoPE they differ from both extremes."""

from __future__ import annotations

import pytest
import torch

from niah.backends.hf import HFBackend
from niah.data.dataset import Dataset
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

from .conftest import FAMILIES as ALL_FAMILIES

FAMILIES = ["qwen2_vl", "qwen3_vl", "qwen3_5", "glm4v", "internvl", "llava_onevision", "ernie4_5_vl_moe"]


@pytest.mark.parametrize("family", FAMILIES)
def test_nope_in_every_layer_is_rotating_no_pair(family, tiny_checkpoints, short_dataset, tmp_path):
    backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", device="cpu", cache_dir=str(tmp_path))
    native = backend.native_variant.spec
    ds = Dataset(short_dataset)
    (sample,) = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])[:1]
    backend._load(ds)
    backend._encode_frames(ds, [sample])
    logits = {}
    for extra in ("", "+nope:every=1", "+p=0.001", "+nope:every=2"):
        variant = resolve_variant(native + extra)
        logits[extra] = backend.logits(ds, type(sample)(sample.task, variant, sample.cell, sample.query))[0]
    assert torch.allclose(logits["+nope:every=1"], logits["+p=0.001"], atol=1e-5, rtol=0)
    assert (logits["+nope:every=1"] - logits[""]).abs().max() > 1e-4
    text = backend.model.config.get_text_config()
    layers = text.num_hidden_layers
    attention = [i for i, k in enumerate(getattr(text, "layer_types", None) or ["full_attention"] * layers)
                 if k == "full_attention"]  # Qwen3.5's linear-attention layers have no rotary to turn off
    if {i % 2 for i in attention} == {0, 1}:  # some attention layers NoPE, some rotating: neither extreme
        assert (logits["+nope:every=2"] - logits[""]).abs().max() > 1e-4
        assert (logits["+nope:every=2"] - logits["+nope:every=1"]).abs().max() > 1e-4
    assert backend.model.model.language_model.rotary_emb.nope == set(range(1, layers, 2))


def test_a_pattern_that_turns_off_no_attention_layer_is_refused(tiny_checkpoints, short_dataset, tmp_path):
    from click.testing import CliRunner

    from niah.cli import main

    args = ["run", str(short_dataset), "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--device", "cpu",
            "--variants", "m-rope+nope:every=3", "--out", str(tmp_path / "r")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "none of qwen2_vl's 2 attention layers" in res.output
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif("cohere_compass" not in ALL_FAMILIES, reason="CohereCompass needs transformers >= 5.25")
def test_nope_every_other_layer_reproduces_cohere_compass_global_layers(tiny_checkpoints, short_dataset, tmp_path):
    """The reference for +nope is CohereCompass itself: its global layers get no position embeddings
    from transformers' own model (the family's native logits equal the unmodified model's,
    test_equality.py). The same weights with every layer rotating, given +nope:every=2 (its tiny
    config's global layer is layer 1), answer as the NoPE original; without it they do not."""
    import json
    import shutil

    original = tiny_checkpoints["cohere_compass"]
    rotating = shutil.copytree(original, tmp_path / "rotating")
    config = json.loads((rotating / "config.json").read_text())
    rope = config["text_config"]["rope_parameters"]
    assert rope["full_attention"] is None  # the original's global layer has no rotary
    rope["full_attention"] = rope["sliding_attention"]
    (rotating / "config.json").write_text(json.dumps(config))
    ds = Dataset(short_dataset)

    def logits(folder, extra: str) -> torch.Tensor:
        backend = HFBackend(str(folder), dtype="float32", device="cpu", cache_dir=str(tmp_path / "cache"),
                            no_prefix_reuse=True)  # fmt: skip
        (sample,) = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])[:1]
        backend._load(ds)
        backend._encode_frames(ds, [sample])
        variant = resolve_variant(backend.native_variant.spec + extra)
        return backend.logits(ds, type(sample)(sample.task, variant, sample.cell, sample.query))[0]

    reference = logits(original, "")
    assert torch.allclose(logits(rotating, "+nope:every=2"), reference, atol=1e-5, rtol=0)
    assert (logits(rotating, "") - reference).abs().max() > 1e-4
    # on the original, whose global layer gets no position embeddings at all, +nope:every=1 turns off the
    # sliding layer's rotation and leaves the global layer as it was (the hook passes a None through)
    assert (logits(original, "+nope:every=1") - reference).abs().max() > 1e-5


@pytest.mark.parametrize("family", [f for f in ("exaone4_5", "cohere_compass") if f in ALL_FAMILIES])
def test_nope_only_on_layers_that_rotate_nothing_already_is_refused(family, tiny_checkpoints):
    """EXAONE 4.5's and CohereCompass's global layers have no rotary (their tiny configs: layer 1):
    +nope:every=2 names only that layer, so it would change nothing there and is refused in one
    line; every=1 also names the rotating sliding layer 0 and is accepted."""
    from niah.errors import NiahError

    backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", device="cpu", no_prefix_reuse=True)
    native = backend.native_variant.spec
    refused = "turns rotary off in none of .* 1 attention layers that rotate .layers 0.*change nothing"
    with pytest.raises(NiahError, match=refused):
        backend.check_variants([resolve_variant(native + "+nope:every=2")])
    backend.check_variants([resolve_variant(native + "+nope:every=1")])
