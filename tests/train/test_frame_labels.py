"""The frame heads' labels: what each training image shows, from the renderer's own record."""

from __future__ import annotations

import numpy as np
import pytest

from niah.data.families import NEEDLE_FAMILIES, render
from niah.rope import resolve_variant
from niah.train.data import IGNORE, TRAIN_LOOKALIKES, Stream, build_pool, draw_needle
from niah.train.model import TinyConfig, Tokenizer, key_classes


@pytest.fixture(scope="module")
def stream():
    config = TinyConfig(families=["colour", "shape", "count", "position"])
    return Stream(config, resolve_variant("vanilla"), 0, [4], 4, build_pool(config, 0, 40))


def test_key_and_value_labels_follow_the_renderer(stream):
    classes = key_classes()
    tok = Tokenizer(stream.config)
    for i in range(40):
        rng = np.random.default_rng(i)
        needle = draw_needle(stream.config, tok, stream.pool, rng)
        # draw the same needle again by replaying the generator, to read the renderer's record
        again = np.random.default_rng(i)
        family = NEEDLE_FAMILIES[stream.config.families[int(again.integers(len(stream.config.families)))]]
        kind = ("near", "scene")[int(again.integers(2))]
        backgrounds = again.integers(len(stream.pool.frames), size=1 + TRAIN_LOOKALIKES)
        r = render(family, again, int(again.integers(4)), kind,
                   lambda j, b=backgrounds: stream.pool.frames[b[j]], 224, 112, count=TRAIN_LOOKALIKES)  # fmt: skip
        assert classes[needle.keys[0]] == f"{r.key.colour} {r.key.shape}"  # the needle shows the key
        assert len(r.distractor_drawn) == TRAIN_LOOKALIKES == len(needle.keys) - 1
        for j, drawn in enumerate(r.distractor_drawn):
            shown = classes[needle.keys[1 + j]]
            assert shown != classes[needle.keys[0]]  # no look-alike shows the key
            assert shown == f"{drawn[0].colour} {drawn[0].kind}"  # another key: its shape or colour changed
        assert needle.values == [tok.answers[r.options[v]] for v in [r.answer, *r.shows]]


def test_vision_batches_and_haystack_frames(stream):
    features, keys, values = stream.frames_at(0)
    assert features.shape[0] == keys.shape[0] == values.shape[0] == (1 + TRAIN_LOOKALIKES) * stream.batch
    batch = stream.batch_at(0)
    haystack = batch.frame_values == IGNORE  # frames that are not a needle or a distractor
    assert haystack.any() and (batch.frame_keys[haystack] == 0).all()  # the haystack never shows a key
    assert int(batch.is_vision.sum()) == len(batch.frame_keys) * stream.config.tokens_per_frame
