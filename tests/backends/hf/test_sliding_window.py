"""Sliding-window attention layers (Qwen2's use_sliding_window, CohereCompass's 3-of-4 layers):
their KV cache cannot be cut back to a shared prefix, so prefix reuse is refused in one line that
says to pass --no-prefix-reuse; without reuse the chunked prefill and the answer scoring equal the
unmodified model's forward (transformers' own sliding-window masks) on a tiny Qwen2-VL whose second
layer slides over 6 tokens."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.backends.hf.tiny import save_checkpoint, tiny_config
from niah.cli import main
from niah.data.dataset import Dataset
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

from .test_equality import official_logits


@pytest.fixture(scope="module")
def sliding_checkpoint(tmp_path_factory):
    config = tiny_config("qwen2_vl")
    text = config.text_config
    text.use_sliding_window, text.sliding_window, text.max_window_layers = True, 6, 1
    text.layer_types = ["full_attention", "sliding_attention"]
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "sliding", config)


def test_prefix_reuse_is_refused_in_one_line_saying_what_to_pass(sliding_checkpoint, short_dataset, tmp_path):
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{sliding_checkpoint}", "--device",
                                    "cpu", "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 2 and "--no-prefix-reuse" in res.output and "sliding-window" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


@pytest.mark.parametrize("chunk", [5, 4096])
def test_without_reuse_chunks_and_scores_equal_the_unmodified_model(sliding_checkpoint, short_dataset, tmp_path,
                                                                     chunk):  # fmt: skip
    backend = HFBackend(str(sliding_checkpoint), dtype="float32", device="cpu", no_prefix_reuse=True,
                        chunk_tokens=chunk, cache_dir=str(tmp_path))  # fmt: skip
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah-d"]], [backend.native_variant], lengths=[3])[:2]
    backend._load(ds)
    backend._encode_frames(ds, plan)
    for sample in plan:
        ours, segments = backend.logits(ds, sample)
        assert sum(s.n for s in segments) > 6  # the window really slides over this prompt
        assert torch.allclose(ours, official_logits(backend, ds, sample), atol=1e-5, rtol=0)
    results = list(backend.run(plan, ds))  # scoring and generation rewind the sliding layer too
    again = list(backend.run(plan, ds))
    assert all(not r.failed for r in results)
    assert [r.scores["option_logprobs"] for r in results] == [r.scores["option_logprobs"] for r in again]


def test_a_continuation_leaves_the_sliding_layer_as_the_prompt_left_it(sliding_checkpoint, short_dataset, tmp_path):
    """Scoring a multi-token continuation feeds tokens into the sliding layer, which cannot be cut
    back: the prompt's state comes back from a copy, so a second scoring (or the generation after
    it) sees the prompt, not the prompt plus the first continuation."""
    backend = HFBackend(str(sliding_checkpoint), dtype="float32", device="cpu", no_prefix_reuse=True,
                        cache_dir=str(tmp_path))  # fmt: skip
    ds = Dataset(short_dataset)
    (sample,) = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])[:1]
    backend._load(ds)
    backend._encode_frames(ds, [sample])
    first, _ = backend.logits(ds, sample)
    tokens = [5, 17, 42, 9, 11, 3, 8]  # longer than the window: the layer would drop prompt keys
    once, twice = backend.runner.score(first, tokens), backend.runner.score(first, tokens)
    assert once.logprob == twice.logprob and once.greedy == twice.greedy


def test_attention_at_the_answer_is_refused_for_sliding_layers(sliding_checkpoint, short_dataset, tmp_path):
    args = ["run", str(short_dataset), "--model", f"hf:{sliding_checkpoint}", "--device", "cpu", "--no-prefix-reuse",
            "--attention", "--out", str(tmp_path / "r")]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "sliding-window layers see only their window" in res.output
    assert not (tmp_path / "r").exists()
