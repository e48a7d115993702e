"""Tiny models on ordering and distance: order labels, the stream's answers, resume, evaluation."""

from __future__ import annotations

import json
import re

import pytest
import torch
from click.testing import CliRunner

from niah.cli import main
from niah.data.multi import group_slots, order_label
from niah.rope import resolve_variant
from niah.train.data import Stream, build_pool
from niah.train.model import TinyConfig, key_classes
from niah.train.trainer import WEIGHTS, TrainOptions, train

ORDER = TinyConfig(variant="m-rope", tasks=["v-niah", "v-niah-d", "ordering", "distance"])


@pytest.fixture(scope="module")
def pool():
    return build_pool(ORDER, seed=0, haystack_frames=40)


def test_order_labels_name_the_order_of_the_questions_keys():
    q = "Find the frames with a red star, an orange cross and a blue diamond. In which order do they appear?"
    assert order_label(q, "blue diamond, red star, orange cross") == "order:201"
    assert order_label(q, "red star, orange cross, blue diamond") == "order:012"
    assert order_label(q, "red star, blue cross, blue diamond") is None  # not the named keys
    d = "Find the frames with a green triangle and a red star. Which appears first?"
    assert order_label(d, "the red star") == "order:10" and order_label(d, "the green triangle") == "order:01"
    assert order_label("Find the frame with a red star. What colour is the square beside it?", "red") is None


def _named(question_ids, vocab) -> list[str]:
    words = [vocab[i] for i in question_ids]
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)
            if b in ("star", "triangle", "cross", "diamond") and a not in ("a", "an", "the")]  # fmt: skip


def test_every_order_sample_asks_the_order_its_frames_show(pool):
    """The target is recomputed from the frame labels in sequence order and the question's words."""
    stream = Stream(ORDER, resolve_variant("m-rope"), 0, [4, 8, 12], 8, pool)
    answers = ORDER.answers
    kinds = set()
    for step in range(40):
        batch = stream.batch_at(step)
        if not answers[int(batch.options[0, 0])].startswith("order:"):
            kinds.add("retrieval")
            continue
        per_frame = ORDER.tokens_per_frame
        frames_per_sample = batch.is_vision.sum(1) // per_frame
        keys_at = iter(batch.frame_keys.tolist())
        for b in range(len(batch.ids)):
            labels = [next(keys_at) for _ in range(int(frames_per_sample[b]))]
            q = batch.ids[b][~batch.is_vision[b]].tolist()[2 + 1 :]  # after <bos> <vision_start> <vision_end>
            named = _named(q, ORDER.vocab)
            shown = [key_classes()[k] for k in labels if k]
            assert sorted(shown) == sorted(named) and len(set(shown)) == len(shown)
            truth = "order:" + "".join(str(named.index(k)) for k in shown)
            assert answers[int(batch.options[b, batch.target[b]])] == truth
            kinds.add("ordering" if len(named) == 3 else "distance")
    assert kinds == {"retrieval", "ordering", "distance"}


def test_a_retrieval_model_draws_the_stream_it_always_did(pool):
    """Adding order tasks must not change the batches of a model trained on retrieval alone."""
    plain = TinyConfig(variant="m-rope")
    explicit = TinyConfig(variant="m-rope", tasks=["v-niah", "v-niah-d"])
    a = Stream(plain, resolve_variant("m-rope"), 0, [4, 8], 4, pool).batch_at(3)
    b = Stream(explicit, resolve_variant("m-rope"), 0, [4, 8], 4, pool).batch_at(3)
    assert torch.equal(a.ids, b.ids) and torch.equal(a.pixels, b.pixels) and torch.equal(a.target, b.target)


def test_resume_with_order_tasks_gives_the_weights_of_an_uninterrupted_run(tmp_path, pool):
    from safetensors.torch import load_file

    options = dict(steps=6, batch=4, lengths=[2, 3], checkpoint_every=2, log_every=2, warmup=2, vision_steps=0)
    train(tmp_path / "whole", ORDER, TrainOptions(**options), threads=1, pool=pool)

    class Stop(Exception):
        pass

    def stop(step, steps, stats):
        if step == 5:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "cut", ORDER, TrainOptions(**options), threads=1, pool=pool, progress=stop)
    train(tmp_path / "cut", ORDER, TrainOptions(**options), threads=1, pool=pool)
    a, b = load_file(str(tmp_path / "whole" / WEIGHTS)), load_file(str(tmp_path / "cut" / WEIGHTS))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_model_trained_on_ordering_answers_an_ordering_dataset_and_others_skip_it(tmp_path, pool):
    runner = CliRunner()
    data = tmp_path / "d"
    res = runner.invoke(main, ["generate", "--preset", "demo", "--families", "colour", "--needles-per-cell", "4",
                               "--lengths", "8", "--tasks", "v-niah,ordering,distance", "--out", str(data), "-q"])
    assert res.exit_code == 0, res.output
    options = TrainOptions(steps=4, batch=2, lengths=[2, 3], warmup=1, vision_steps=0)
    train(tmp_path / "order" / "m-rope-s0", ORDER, options, threads=1, pool=pool)  # what niah train --tasks writes
    train(tmp_path / "plain" / "m-rope-s0", TinyConfig(variant="m-rope"), options, threads=1, pool=pool)
    res = runner.invoke(main, ["run", str(data), "--model", f"tiny:{tmp_path / 'order'}", "--variants", "m-rope",
                               "--tasks", "ordering,distance", "--out", str(tmp_path / "r"), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in records} == {"ordering", "distance"} and len(records) == 2 * 16
    assert all(len(r["scores"]["option_logprobs"]) == (4 if r["task"] == "ordering" else 2) for r in records)
    res = runner.invoke(main, ["run", str(data), "--model", f"tiny:{tmp_path / 'plain'}", "--variants", "m-rope",
                               "--tasks", "v-niah,ordering", "--out", str(tmp_path / "r2"), "-q"])  # fmt: skip
    assert res.exit_code == 0 and re.search(r"ordering \(every needle\): has options outside", res.output)
    lines = (tmp_path / "r2" / "results.jsonl").read_text().splitlines()
    assert lines and all(json.loads(x)["task"] == "v-niah" for x in lines)


def test_order_samples_place_their_needles_as_datasets_do_and_anywhere(pool):
    """About half the ordering samples put the needles in the datasets' group (group_slots at some
    depth), the rest anywhere in the haystack: slots read back from the frame labels."""
    config = TinyConfig(variant="m-rope", tasks=["ordering"])
    stream = Stream(config, resolve_variant("m-rope"), 0, [12], 16, pool)
    grouped = anywhere = 0
    for step in range(12):
        batch = stream.batch_at(step)
        keys = batch.frame_keys.view(len(batch.ids), -1)  # 15 frames each: 12 haystack + 3 needles
        for row in keys.tolist():
            needles = [i for i, k in enumerate(row) if k]
            slots = [i - j for j, i in enumerate(needles)]  # haystack frames before each needle
            if any(slots == group_slots(12, d, 3) for d in range(101)):
                grouped += 1
            else:
                anywhere += 1
    assert grouped + anywhere == 192
    assert 0.35 < grouped / 192 < 0.75 and anywhere > 40  # random slots form such a group only by chance
