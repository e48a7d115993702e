"""Prefix reuse with Qwen3.5's linear-attention layers, whose recurrent state cannot be cut back:
snapshots where later prompts diverge, restored state for scoring, a restart after out of memory.

The tiny model's Gated DeltaNet layer is given a long memory (A_log = −8: the state decays by
about 3·10⁻⁴ per token), so that a state advanced twice, or restored from the wrong token, shows in
the logits; random init forgets within a few tokens and would hide it."""

from __future__ import annotations

import pytest
import torch

from niah.backends.hf.backend import snapshot_points
from niah.backends.hf.checkpoint import load_model, open_checkpoint
from niah.backends.hf.prompt import Segment
from niah.backends.hf.runner import PromptRunner


@pytest.fixture(scope="module")
def model(tiny_checkpoints):
    m = load_model(open_checkpoint(str(tiny_checkpoints["qwen3_5"])), dtype="float32", device="cpu")
    with torch.no_grad():
        for layer in m.model.language_model.layers:
            if hasattr(layer, "linear_attn"):
                layer.linear_attn.A_log.fill_(-8.0)
    return m


def prompt(keys: list[str], n: int = 40):
    """Segments of n tokens each, keyed by name; embeddings drawn per key (same key, same tokens)."""
    segments = [Segment(k, n) for k in keys]
    rows = []
    for k in keys:
        g = torch.Generator().manual_seed(sum(map(ord, k)))
        rows.append(torch.randn(n, 32, generator=g))
    embeds = torch.cat(rows)[None]
    positions = torch.arange(embeds.shape[1]).expand(3, -1).double()
    return segments, positions, lambda a, b: (embeds[:, a:b], {})


def fresh(model, keys: list[str]) -> torch.Tensor:
    return PromptRunner(model, reuse=False).prefill(*prompt(keys))


def test_later_prompts_resume_from_snapshots_and_equal_a_fresh_prefill(model):
    order = [list("abcde"), list("abcdx"), list("abyz"), list("abyw"), list("aq")]
    runner = PromptRunner(model, chunk_tokens=64)
    shared = [0]
    for before, after in zip(order, order[1:], strict=False):
        common = next((i for i, (p, q) in enumerate(zip(before, after, strict=False)) if p != q), len(after))
        shared.append(min(common * 40, len(after) * 40 - 1))
    assert shared == [0, 160, 80, 120, 40]
    for i, keys in enumerate(order):
        before = runner.tokens_computed
        got = runner.prefill(*prompt(keys), snapshot_at=snapshot_points(shared, i))
        assert runner.tokens_computed - before == len(keys) * 40 - shared[i]  # only what is new
        assert torch.allclose(got, fresh(model, keys), atol=1e-6), keys


def test_a_prompt_without_its_snapshot_recomputes_rather_than_guess(model):
    runner = PromptRunner(model, chunk_tokens=64)
    runner.prefill(*prompt(list("abc")))  # no snapshot asked for
    got = runner.prefill(*prompt(list("abd")))
    assert runner.tokens_computed == 120 + 120
    assert torch.allclose(got, fresh(model, list("abd")), atol=1e-6)


def test_scoring_a_continuation_starts_from_the_end_of_the_prompt_every_time(model):
    runner = PromptRunner(model)
    first = runner.prefill(*prompt(list("ab")))
    one = runner.score(first, [5, 6, 7])
    two = runner.score(first, [8, 9, 10])
    again = runner.score(first, [5, 6, 7])
    assert one == again
    other = PromptRunner(model)
    fresh_two = other.score(other.prefill(*prompt(list("ab"))), [8, 9, 10])
    assert fresh_two.logprob == pytest.approx(two.logprob) and fresh_two.greedy == two.greedy
    # greedy generation feeds its own tokens on top of the same states and leaves them as they were
    said = runner.generate(first, 6, set())
    assert len(said) == 6 and runner.generate(first, 6, set()) == said and runner.score(first, [5, 6, 7]) == one
    assert other.generate(other.prefill(*prompt(list("ab"))), 6, set()) == said


def prefill_failing_once(model, runner: PromptRunner, keys: list[str]) -> tuple[torch.Tensor, int]:
    """Prefill `keys` with layer 1 (full attention) raising out of memory on its first call, after
    layer 0 (linear attention) advanced its recurrent state; (logits, calls of layer 1)."""
    calls = {"n": 0}

    def hook(module, args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    handle = model.model.language_model.layers[1].register_forward_pre_hook(hook)
    try:
        return runner.prefill(*prompt(keys)), calls["n"]
    finally:
        handle.remove()


def test_out_of_memory_mid_forward_restarts_the_prompt(model):
    """Without a snapshot the prompt is computed again from its start, so the logits equal a clean
    prefill's."""
    runner = PromptRunner(model, chunk_tokens=512)
    got, calls = prefill_failing_once(model, runner, list("abc"))
    assert runner.chunk_tokens == 256 and calls > 1
    assert torch.allclose(got, fresh(model, list("abc")), atol=1e-6)


def test_out_of_memory_after_a_snapshot_restarts_from_it(model):
    """The second prompt resumes at 80 tokens from the first's snapshot; when its first chunk fails
    it goes back to that snapshot, not to token 0."""
    runner = PromptRunner(model, chunk_tokens=512)
    runner.prefill(*prompt(list("abc")), snapshot_at=[80])
    before = runner.tokens_computed
    got, _ = prefill_failing_once(model, runner, list("abd"))
    assert runner.tokens_computed - before == 120 - 80  # only the unshared tokens, once
    assert torch.allclose(got, fresh(model, list("abd")), atol=1e-6)
