"""Out of memory anywhere fails one sample (or the samples that need what failed), never the
sweep, and a rerun completes them (issue 14 item 4). OOM is simulated by raising
torch.OutOfMemoryError where CUDA would."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend, vision
from niah.backends.hf.runner import PromptRunner
from niah.cli import main


def run(dataset, ckpt, out):
    return CliRunner().invoke(main, ["run", str(dataset), "--model", f"hf:{ckpt}", "--variants", "vanilla,m-rope",
                                     "--tasks", "v-niah", "--out", str(out), "--device", "cpu", "--dtype", "float32",
                                     "-q"])  # fmt: skip


def records(out):
    return {r["key"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def references(tiny_checkpoints, short_dataset, tmp_path_factory):
    """family → the records of a clean run (made on first use)."""
    made = {}

    def reference(family: str) -> dict:
        if family not in made:
            out = tmp_path_factory.mktemp("ref") / family
            assert run(short_dataset, tiny_checkpoints[family], out).exit_code == 0
            made[family] = records(out)
        return made[family]

    return reference


@pytest.fixture
def reference(references):
    return references("qwen2_vl")


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_5"])
def test_oom_mid_forward_after_some_layers_appended_gives_the_same_answers(
        family, tiny_checkpoints, short_dataset, references, tmp_path, monkeypatch):  # fmt: skip
    """Layer 1 raises once, in the 3rd prefill, after layer 0 has appended the chunk to the cache
    (Qwen3.5: advanced its recurrent state): the chunk is cut back and recomputed at half the size
    (Qwen3.5: the prompt from its start); every answer equals the clean run's."""
    reference = references(family)
    real_load, real_forward = HFBackend._load, PromptRunner._forward
    calls = {"n": 0, "prefill": False}

    def forward(self, *args):  # the layer counts its calls inside prefill chunks, not while answering
        calls["prefill"] = True
        try:
            return real_forward(self, *args)
        finally:
            calls["prefill"] = False

    def load_with_hook(self, dataset):
        real_load(self, dataset)

        def hook(module, args):
            calls["n"] += calls["prefill"]
            if calls["n"] == 3 and calls["prefill"]:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

        if not getattr(self, "_hooked", False):
            self.model.model.language_model.layers[1].register_forward_pre_hook(hook)
            self._hooked = True

    monkeypatch.setattr(HFBackend, "_load", load_with_hook)
    monkeypatch.setattr(PromptRunner, "_forward", forward)
    monkeypatch.setattr("niah.backends.hf.backend.DEFAULT_CHUNK", 1024)
    out = tmp_path / "run"
    res = run(short_dataset, tiny_checkpoints[family], out)
    assert res.exit_code == 0, res.output
    assert calls["n"] > 3
    got = records(out)
    assert set(got) == set(reference) and all(r["status"] == "ok" for r in got.values())
    for key, r in reference.items():
        assert got[key]["prediction"] == r["prediction"]
        assert got[key]["scores"]["option_logprobs"] == pytest.approx(r["scores"]["option_logprobs"], abs=1e-4)


def test_oom_while_scoring_fails_that_sample_only_and_a_rerun_completes(tiny_checkpoints, short_dataset, reference,
                                                                        tmp_path, monkeypatch):  # fmt: skip
    real = HFBackend._outcomes
    seen = {"n": 0}

    def answer(self, sample, first, segments):
        seen["n"] += 1
        if seen["n"] == 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, sample, first, segments)

    monkeypatch.setattr(HFBackend, "_outcomes", answer)
    out = tmp_path / "run"
    run(short_dataset, tiny_checkpoints["qwen2_vl"], out)
    failed = [r for r in records(out).values() if r["status"] == "failed"]
    assert len(failed) == 1 and "out of memory" in failed[0]["error"]
    assert sum(r["status"] == "ok" for r in records(out).values()) == len(reference) - 1
    monkeypatch.undo()
    assert run(short_dataset, tiny_checkpoints["qwen2_vl"], out).exit_code == 0
    assert all(r["status"] == "ok" for r in records(out).values()) and set(records(out)) == set(reference)


def test_oom_while_encoding_frames_fails_the_samples_that_need_them(tiny_checkpoints, short_dataset, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    real = vision.encode_into
    seen = {"n": 0}

    def encode_into(cache, model, frames, settings, deepstack, kind):
        seen["n"] += 1
        if seen["n"] == 2:  # the needle and distractor frames
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(cache, model, frames, settings, deepstack, kind)

    monkeypatch.setattr(vision, "encode_into", encode_into)
    ckpt = tiny_checkpoints["qwen2_5_vl"]
    out = tmp_path / "run"
    run(short_dataset, ckpt, out)
    failed = [r for r in records(out).values() if r["status"] == "failed"]
    assert failed and all("was not encoded" in r["error"] for r in failed)
    monkeypatch.undo()
    assert run(short_dataset, ckpt, out).exit_code == 0
    assert all(r["status"] == "ok" for r in records(out).values())
