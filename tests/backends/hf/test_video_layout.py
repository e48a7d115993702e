"""Qwen3-VL's video layout is the user's choice (issue 14 item 2): in the native timestamped form
every frame is its own run, so a temporal option cannot act and is refused naming it; in the
contiguous form the video is one run and δ changes the positions."""

from __future__ import annotations

import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.backends.hf.prompt import layout_of
from niah.cli import main
from niah.data.dataset import Dataset
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS


def positions(backend, dataset, variant):
    sample = make_plan(dataset, [TASKS["v-niah"]], [resolve_variant(variant)])[0]
    segments = backend.segments(dataset, sample)
    return resolve_variant(variant).position_ids(layout_of(segments, backend.grid(dataset), dataset.options["fps"]))


def test_delta_acts_in_the_contiguous_layout_only(tiny_checkpoints, short_dataset):
    dataset = Dataset(short_dataset)
    contiguous = HFBackend(str(tiny_checkpoints["qwen3_vl"]), device="cpu", video_layout="contiguous")
    assert not torch.equal(positions(contiguous, dataset, "videorope:delta=1"),
                           positions(contiguous, dataset, "videorope:delta=2"))  # fmt: skip
    timestamped = HFBackend(str(tiny_checkpoints["qwen3_vl"]), device="cpu")
    assert timestamped.config()["video_layout"] == "timestamped" and contiguous.config()["video_layout"] == "contiguous"
    assert torch.equal(positions(timestamped, dataset, "videorope:delta=1"),
                       positions(timestamped, dataset, "videorope:delta=2"))  # the silent no-op that is now refused


def run(dataset, ckpt, out, variants, *extra):
    return CliRunner().invoke(main, ["run", str(dataset), "--model", f"hf:{ckpt}", "--variants", variants, "--out",
                                     str(out), "--device", "cpu", "--limit", "2", "-q", *extra])  # fmt: skip


def test_a_temporal_option_is_refused_in_the_timestamped_layout(tiny_checkpoints, short_dataset, tmp_path):
    ckpt = tiny_checkpoints["qwen3_vl"]
    for variant, option in (("videorope:delta=1.5", "delta"), ("m-rope-time", "tokens_per_second"),
                            ("mmrope", "position_scale[0]"), ("omnirope:temporal_stride=2", "temporal_stride")):
        res = run(short_dataset, ckpt, tmp_path / "o", variant)
        assert res.exit_code == 2 and f"option {option} cannot act" in res.output, res.output
        assert "--video-layout contiguous" in res.output and len(res.output.strip().splitlines()) == 1
        assert not (tmp_path / "o").exists()
    assert run(short_dataset, ckpt, tmp_path / "ok", "mrope-interleaved").exit_code == 0  # nothing temporal to lose
    assert run(short_dataset, ckpt, tmp_path / "ok2", "ilrope,hope").exit_code == 0  # strides at 1: nothing lost
    assert run(short_dataset, ckpt, tmp_path / "c", "videorope:delta=1", "--video-layout", "contiguous").exit_code == 0
    res = run(short_dataset, tiny_checkpoints["qwen2_vl"], tmp_path / "q2", "m-rope", "--video-layout", "timestamped")
    assert res.exit_code == 2 and "takes its video as one contiguous run" in res.output


def test_glm_contiguous_layout_is_one_image_run_inside_the_video(tiny_checkpoints, short_dataset):
    """GLM-4.xV in the contiguous layout: the frames form one run between begin_of_image and
    end_of_image (no timestamps), inside the template's begin_of_video ... end_of_video."""
    dataset = Dataset(short_dataset)
    backend = HFBackend(str(tiny_checkpoints["glm4v"]), device="cpu", video_layout="contiguous")
    sample = make_plan(dataset, [TASKS["v-niah"]], [resolve_variant("m-rope")])[0]
    segments = backend.segments(dataset, sample)
    frames = [i for i, s in enumerate(segments) if s.frame is not None]
    assert frames == list(range(frames[0], frames[0] + len(sample.frames(dataset))))  # adjacent: one run
    decode = backend.ck.tokenizer.decode
    assert decode(segments[frames[0] - 1].ids).endswith("<|begin_of_video|><|begin_of_image|>")
    assert decode(segments[frames[-1] + 1].ids).startswith("<|end_of_image|><|end_of_video|>")
    assert len(layout_of(segments, backend.grid(dataset), dataset.options["fps"]).runs) == 3  # text, video, text
