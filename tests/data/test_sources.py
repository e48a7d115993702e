"""Haystacks from a user's video or image folder, and user needle files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.data.video_io import sample_at_fps, write_mp4
from niah.errors import NiahError


def numbered_video(path, count: int, fps: float, size=(64, 48)):
    """A video whose frame k is uniformly grey level 8·k (so a sampled frame tells its index)."""
    frames = [np.full((size[1], size[0], 3), 8 * k, np.uint8) for k in range(count)]
    write_mp4(path, frames, fps)
    return path


def index_of(frame: np.ndarray) -> int:
    return int(round(frame.mean() / 8))


def test_sampling_uses_exact_timestamps(tmp_path):
    video = numbered_video(tmp_path / "v.mp4", 30, fps=10)
    got = [index_of(f) for f in sample_at_fps(video, 2.0)]
    assert got == list(range(0, 30, 5))  # t = 0, 0.5, 1.0, ... s → source frames 0, 5, 10, ...
    got = [index_of(f) for f in sample_at_fps(video, 4.0)]
    assert got == [int(np.floor(k / 4 * 10 + 1e-9)) for k in range(12)]


def test_user_video_haystack_and_loop(tmp_path):
    video = numbered_video(tmp_path / "v.mp4", 30, fps=10)
    opts = dict(
        haystack="video",
        source=str(video),
        fps=2.0,
        width=64,
        height=48,
        lengths="4,6",
        depths="50",
        needles=1,
        distractor_period=2,
    )
    ds = Dataset(generate(tmp_path / "d", resolve_config("demo", **opts)))
    assert [index_of(f) for f in ds.haystack_frames()] == [0, 5, 10, 15, 20, 25]
    with pytest.raises(NiahError, match="gives 6 frames at 2 fps but the longest haystack asked for is 8"):
        generate(tmp_path / "e", resolve_config("demo", **{**opts, "lengths": "8"}))
    assert not (tmp_path / "e").exists() and not list(tmp_path.glob(".e.tmp-*"))
    looped = Dataset(generate(tmp_path / "f", resolve_config("demo", **{**opts, "lengths": "8", "loop": True})))
    assert [index_of(f) for f in looped.haystack_frames()] == [0, 5, 10, 15, 20, 25, 0, 5]
    assert looped.options["loop"] is True


def test_frames_folder_haystack_in_name_order(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in (3, 1, 2, 0):
        cv2.imwrite(str(folder / f"img{k:02d}.png"), np.full((48, 64, 3), 8 * k, np.uint8))
    opts = dict(haystack="frames", source=str(folder), width=64, height=48, lengths="4", depths="0", needles=1)
    ds = Dataset(generate(tmp_path / "d", resolve_config("demo", **opts)))
    assert [index_of(f) for f in ds.haystack_frames()] == [0, 1, 2, 3]
