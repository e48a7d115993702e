"""The hf backend's metrics by name on a tiny checkpoint: exact match is VideoRoPE's rule, mc the
lm-eval rule, generate lmms-eval's parse; continuations are scored in context; the runner passes
its cache under the name the installed transformers takes, and never reuses a prefix whose
positions moved."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from niah.backends.hf import HFBackend
from niah.backends.hf.checkpoint import load_model, open_checkpoint
from niah.backends.hf.prompt import Segment, continuation_ids, layout_of
from niah.backends.hf.runner import PromptRunner, cache_argument
from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS


@pytest.fixture(scope="module")
def run_mrope(tiny_checkpoints, short_dataset):
    backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu")
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah"], TASKS["v-niah-d"]], [resolve_variant("m-rope")])
    return backend, ds, list(backend.run(backend.order(plan), ds))


def test_every_sample_records_three_metrics_and_mc_is_not_exact_match(run_mrope):
    _, _, results = run_mrope
    assert all(set(r.outcomes) == {"exact_match", "mc", "generate"} and r.metric == "exact_match" for r in results)
    # a letter that wins among the four options but not over the whole vocabulary: the random model's
    # argmax is almost never a letter, so mc is right about a quarter of the time and exact match never
    right_by_mc_only = [r for r in results if r.outcomes["mc"].correct and not r.outcomes["exact_match"].correct]
    assert right_by_mc_only and all(r.outcomes["mc"].prediction == r.sample.query.answer_label
                                    for r in right_by_mc_only)  # fmt: skip
    for r in results:  # the generated text, as recorded, parses to the recorded outcome
        text = r.scores["generated"]
        assert r.outcomes["generate"].degenerate == (not text.strip() or r.outcomes["generate"].prediction == "" or
                                                     len(set(text.strip())) == 1 and len(text.strip()) > 1)


def videorope_exact_match(backend, ds, sample, answer_ids: list[int]) -> tuple[list[int], bool]:
    """VideoRoPE's rule (vision_niah_d/eval_vision_niah_interrupt.py 305-325, 7712ca3) on one
    uncached forward of prompt + answer: pred = logits.argmax(-1) over the answer's positions,
    correct = (pred == answer_ids).all()."""
    segments = backend.segments(ds, sample)
    total = sum(s.n for s in segments)
    positions = sample.variant.position_ids(layout_of(segments, backend.grid(ds), ds.options["fps"])).double()
    prompt, kwargs = backend._embedder(segments)(0, total)
    lm = backend.model.model.language_model
    answer = torch.tensor([answer_ids])
    steps = positions[:, -1:] + torch.arange(1, len(answer_ids) + 1)
    with torch.no_grad():
        out = lm(inputs_embeds=torch.cat([prompt, lm.embed_tokens(answer)], 1),
                 position_ids=torch.cat([positions, steps], 1)[:, None, :], use_cache=False)  # fmt: skip
        logits = backend.model.lm_head(out.last_hidden_state)[0]
    pred = logits[total - 1 : total - 1 + len(answer_ids)].argmax(-1)
    return pred.tolist(), bool((pred == answer[0]).all())


def test_exact_match_is_videoropes_rule_on_the_same_logits(run_mrope):
    backend, ds, results = run_mrope
    for r in results[::5]:
        pred, correct = videorope_exact_match(backend, ds, r.sample, r.scores["answer_tokens"])
        assert pred == r.scores["answer_greedy"] and correct == r.outcomes["exact_match"].correct


def test_an_open_answer_of_several_tokens_is_teacher_forced_through_the_cache(tiny_checkpoints, tmp_path):
    """LongVA's open questions: the answer word's tokens one after another on top of the cached
    prompt give the uncached forward's argmax, token for token; no mc for an open question."""
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "n.png"), np.full((112, 224, 3), 90, np.uint8))
    (tmp_path / "n.jsonl").write_text(json.dumps({"image": "n.png", "question": "Which fruit is named?",
                                                  "answer": "apple"}))  # fmt: skip
    config = resolve_config("demo", needle_file=str(tmp_path / "n.jsonl"), lengths="3", depths="0,100",
                            width=224, height=112)  # fmt: skip
    ds = Dataset(generate(tmp_path / "open", config))
    backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu")
    plan = make_plan(ds, [TASKS["v-niah"]], [resolve_variant("m-rope")])
    results = list(backend.run(plan, ds))
    assert results and all(set(r.outcomes) == {"exact_match", "generate"} for r in results)
    for r in results:
        answer = r.scores["answer_tokens"]
        assert len(answer) == 5  # "apple", byte by byte
        assert videorope_exact_match(backend, ds, r.sample, answer) == (r.scores["answer_greedy"],
                                                                       r.outcomes["exact_match"].correct)


@pytest.fixture(scope="module")
def sentencepiece_checkpoint(tmp_path_factory):
    """A tiny Qwen2-VL whose tokenizer is a SentencePiece BPE (tokenizers' SentencePieceBPETokenizer,
    Metaspace pre-tokenizer, trained here): "A" alone is "▁A", after the prompt's newline "A"."""
    from tiny_qwen import tiny_config, tiny_tokenizer
    from tokenizers import SentencePieceBPETokenizer

    from niah.backends.hf.tiny import chat_template, save_checkpoint

    corpus = [chat_template(), "Find the frame with a red star. What colour is the square beside it? A. red B. blue "
              "C. green D. yellow Answer with the option's letter from the given choices directly."] * 3  # fmt: skip
    sentencepiece = SentencePieceBPETokenizer()
    sentencepiece.train_from_iterator(corpus, vocab_size=300, min_frequency=1, show_progress=False)
    tokenizer = tiny_tokenizer(sentencepiece._tokenizer)
    return save_checkpoint(tmp_path_factory.mktemp("sp") / "qwen2_vl", tiny_config("qwen2_vl"), tokenizer=tokenizer)


def test_letters_are_scored_in_context_where_a_sentencepiece_tokenizer_encodes_them_otherwise(
        sentencepiece_checkpoint, short_dataset):  # fmt: skip
    backend = HFBackend(str(sentencepiece_checkpoint), dtype="float32", device="cpu")
    tok = backend.ck.tokenizer
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], [resolve_variant("m-rope")], lengths=[2])
    results = list(backend.run(plan, ds))
    for r in results:
        letter = r.sample.query.answer_label
        alone = tok.encode(letter, add_special_tokens=False)
        prompt_end = tok.encode("<|im_start|>assistant\n", add_special_tokens=False)
        in_context = tok.encode("<|im_start|>assistant\n" + letter, add_special_tokens=False)[len(prompt_end) :]
        assert tok.convert_ids_to_tokens(in_context) == [letter] and alone != in_context
        assert r.scores["answer_tokens"] == in_context  # what niah scored
        assert videorope_exact_match(backend, ds, r.sample, in_context) == (r.scores["answer_greedy"],
                                                                           r.outcomes["exact_match"].correct)
    last = backend.segments(ds, plan[0])[-1]
    assert continuation_ids(tok, last, "B") == tok.convert_tokens_to_ids(["B"])


def test_the_cache_goes_by_the_name_the_installed_transformers_takes(tiny_checkpoints, short_dataset):
    """transformers 5.25 renamed `past_key_values` to `cache` (the old name warns, and goes in 5.40):
    a whole run passes it by the new name where the model takes it, so nothing warns."""
    backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu", no_prefix_reuse=True)
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], [resolve_variant("m-rope")], lengths=[2])[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert all(not r.failed for r in backend.run(plan, ds))
    import transformers
    from packaging.version import Version

    renamed = Version(transformers.__version__) >= Version("5.25")
    assert cache_argument(backend.model.model.language_model) == ("cache" if renamed else "past_key_values")


def test_a_prefix_whose_positions_moved_is_recomputed_not_reused(tiny_checkpoints):
    """A variant whose positions of the first tokens depend on what follows (here: every position
    shifted by the prompt's length) must not reuse the cached keys of a prompt of another length."""
    model = load_model(open_checkpoint(str(tiny_checkpoints["qwen2_vl"])), dtype="float32", device="cpu")

    def prompt(keys, shift):
        segments = [Segment(k, 20) for k in keys]
        rows = [torch.randn(20, 32, generator=torch.Generator().manual_seed(sum(map(ord, k)))) for k in keys]
        embeds = torch.cat(rows)[None]
        positions = (torch.arange(embeds.shape[1]) + shift * embeds.shape[1]).expand(3, -1).double()
        return segments, positions, lambda a, b: (embeds[:, a:b], {})

    for shift, computed in ((0, 20), (1, 60)):  # same positions: 40 tokens kept; moved: all 60 recomputed
        runner = PromptRunner(model)
        runner.prefill(*prompt(list("ab"), shift))
        before = runner.tokens_computed
        got = runner.prefill(*prompt(list("abc"), shift))
        assert runner.tokens_computed - before == computed
        assert torch.allclose(got, PromptRunner(model, reuse=False).prefill(*prompt(list("abc"), shift)), atol=1e-5)
