"""H.264 writing: the same frames give the same bytes, every time."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest

from niah.data.synthetic import SyntheticHaystack
from niah.data.video_io import read_frames, sample_at_fps, write_mp4
from niah.errors import NiahError


def test_same_frames_encode_to_the_same_bytes_every_time(tmp_path):
    # At the base preset's frame size libx264's default rate control (mbtree) gave different
    # bytes in 89 of 100 encodes of these frames, so five encodes all but surely catch it.
    frames = list(SyntheticHaystack(0, 448, 252).frames(24))
    digests = set()
    for i in range(5):
        path = tmp_path / f"{i}.mp4"
        assert write_mp4(path, (frame.copy() for frame in frames)) == len(frames)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1
    assert len(list(read_frames(tmp_path / "0.mp4"))) == len(frames)


def _write(path, frames, pts, fmt=None, rotation=0, rate=1):
    """An H.264 video whose frame i shows frames[i] at time pts[i] seconds (1 fps time base; pts
    None: the encoder's own timing)."""
    container = av.open(str(path), "w", format=fmt)
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
    if rotation:
        stream.set_display_rotation(rotation)
    for image, t in zip(frames, pts or [None] * len(frames), strict=True):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        if t is not None:
            frame.pts, frame.time_base = t, Fraction(1, 1)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def test_a_video_whose_clock_starts_late_is_sampled_from_its_first_frame(tmp_path):
    """An MPEG-TS whose timestamps start at 101 s gave 101 copies of its first frame at 1 fps."""
    frames = [np.full((32, 64, 3), 30 * i + 10, np.uint8) for i in range(6)]
    _write(tmp_path / "late.ts", frames, [101 + i for i in range(6)], fmt="mpegts")
    got = list(sample_at_fps(tmp_path / "late.ts", 1.0))
    assert len(got) == 6
    assert [round(float(g.mean())) for g in got] == pytest.approx([float(f.mean()) for f in frames], abs=3)


def test_a_video_stored_rotated_is_refused_in_one_line(tmp_path):
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display rotation (PyAV 17+ can); reading it needs 14+")
    frames = [np.zeros((32, 64, 3), np.uint8)] * 3
    _write(tmp_path / "phone.mp4", frames, [0, 1, 2], rotation=90)
    with pytest.raises(NiahError, match="stored rotated by 90"):
        list(sample_at_fps(tmp_path / "phone.mp4", 1.0))
    _write(tmp_path / "flat.mp4", frames, [0, 1, 2])
    assert len(list(sample_at_fps(tmp_path / "flat.mp4", 1.0))) == 3


def test_a_raw_h264_stream_without_timestamps_gives_its_frames(tmp_path):
    """A raw .h264 has no timestamps: it was read as 0 frames."""
    _write(tmp_path / "raw.h264", [np.full((32, 64, 3), 40 * i, np.uint8) for i in range(6)], None, fmt="h264", rate=2)
    got = list(sample_at_fps(tmp_path / "raw.h264", 1.0))  # 6 frames at 2 fps: 3 s, one sample a second
    assert [round(float(g.mean()) / 40) for g in got] == [0, 2, 4]


def test_an_audio_file_with_cover_art_is_no_video(tmp_path):
    """An MP3 with cover art was called 'truncated': its only picture is an attached cover."""
    container = av.open(str(tmp_path / "song.mp3"), "w")
    audio = container.add_stream("libmp3lame", rate=22050)
    cover = container.add_stream("png")
    cover.width, cover.height, cover.pix_fmt = 32, 32, "rgb24"
    cover.disposition = av.stream.Disposition.attached_pic
    for packet in [*cover.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")),
                   *cover.encode()]:  # fmt: skip
        container.mux(packet)
    sound = av.AudioFrame.from_ndarray(np.zeros((1, 3 * 22050), np.float32), format="flt", layout="mono")
    sound.sample_rate = 22050
    for packet in [*audio.encode(sound), *audio.encode()]:
        container.mux(packet)
    container.close()
    with pytest.raises(NiahError, match="only a cover image"):
        list(sample_at_fps(tmp_path / "song.mp3", 1.0))
