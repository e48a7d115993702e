"""A truncated video is refused (or used with --allow-truncated and a warning); --fps above the
video's own rate warns (issue 17 item 10)."""

from __future__ import annotations

import av
import numpy as np
import pytest
from click.testing import CliRunner

from niah.cli import main


def write_mkv(path, frames=100, fps=10):
    """Noise frames (so the file is large and cutting it keeps whole frames); MKV states its
    duration in its header, so a cut file still claims the full length."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    whole = write_mkv(root / "whole.mkv")
    cut = root / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])  # frames up to about 4.8 s of 10 s
    return whole, cut


def generate(tmp_path, video, *args):
    return CliRunner().invoke(main, ["generate", "--video", str(video), "--width", "64", "--height", "48", "--depths",
                                     "50", "--needles-per-cell", "1", "--out", str(tmp_path / "d"), "-q",
                                     *args])  # fmt: skip


def test_a_truncated_video_is_refused_in_one_line(videos, tmp_path):
    res = generate(tmp_path, videos[1], "--fps", "1", "--lengths", "8", "--loop")
    assert res.exit_code == 2, res.output
    assert "is truncated: it states 10.0 s and its frames end at" in res.output and "--allow-truncated" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "d").exists()


def test_allow_truncated_uses_its_frames_with_a_warning(videos, tmp_path):
    res = generate(tmp_path, videos[1], "--fps", "1", "--lengths", "8", "--loop", "--allow-truncated")
    assert res.exit_code == 0, res.output
    assert "warning: video" in res.output and "is truncated" in res.output
    assert (tmp_path / "d" / "manifest.json").is_file()


def test_the_first_seconds_of_a_truncated_video_need_no_flag(videos, tmp_path):
    res = generate(tmp_path, videos[1], "--fps", "1", "--lengths", "4")
    assert res.exit_code == 0 and "truncated" not in res.output, res.output


def test_fps_above_the_video_rate_warns(videos, tmp_path):
    res = generate(tmp_path, videos[0], "--fps", "30", "--lengths", "8")
    assert res.exit_code == 0, res.output
    assert "warning: --fps 30 is above the 10 fps of video" in res.output and "repeats about 3.0 times" in res.output
    quiet = generate(tmp_path / "q", videos[0], "--fps", "5", "--lengths", "8")
    assert quiet.exit_code == 0 and "above the" not in quiet.output


def test_allow_truncated_without_a_video_is_refused(tmp_path):
    """It would silently change nothing for the synthetic haystack or an image folder."""
    res = CliRunner().invoke(main, ["generate", "--preset", "demo", "--allow-truncated", "--out", str(tmp_path / "d")])
    assert res.exit_code == 2 and "--allow-truncated applies to --video only" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "d").exists()
