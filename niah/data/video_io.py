"""Video files through PyAV: H.264 MP4 writing (OpenCV's wheels cannot write H.264) and reading.

Frames are RGB uint8 arrays of shape (H, W, 3). Writing is deterministic, so the same frames give
the same file bytes, which is what makes datasets rebuildable bit-for-bit: the container is muxed
bitexact, and x264's macroblock-tree rate control is off: with it on, libx264's AVX-512 code
codes the same frames differently from run to run (at 448×252, 89 encodes in 100 differed, on
one thread too; limited to AVX2, 200 in 200 agreed). Files are about twice as large without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from niah.errors import NiahError, NiahWarning

CRF = 18  # visually lossless: a needle decoded from a cell video stays above 30 dB PSNR
GOP = 32  # a keyframe every 32 frames keeps seeking to any frame cheap
X264_OPTIONS = {"crf": str(CRF), "preset": "veryfast", "g": str(GOP), "x264-params": "mbtree=0"}


class Mp4Writer:
    """Append RGB frames to an H.264 MP4 at `fps` frames per second; use as a context manager."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 1.0):
        if width % 2 or height % 2:
            raise NiahError(f"frame size {width}x{height} must have even width and height for H.264")
        self.path = Path(path)
        self._container = av.open(str(self.path), "w", options={"fflags": "+bitexact"})
        self._stream = self._container.add_stream("libx264", rate=mp4_rate(fps))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.options = dict(X264_OPTIONS)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame."""
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self._container.mux(packet)
        self.count += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mp4_rate(fps: float) -> Fraction:
    """The frame rate an MP4 is written with for `fps` frames per second (denominator at most 1000)."""
    return Fraction(fps).limit_denominator(1000)


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: float = 1.0) -> int:
    """Write all `frames` (RGB, same size) to an MP4; returns the number of frames written."""
    iterator = iter(frames)
    first = next(iterator)
    with Mp4Writer(path, first.shape[1], first.shape[0], fps) as writer:
        writer.write(first)
        for frame in iterator:
            writer.write(frame)
    return writer.count


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise NiahError(f"video '{path}' does not exist")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise NiahError(f"cannot read video '{path}': not a video file or corrupt ({err})") from None
    if not container.streams.video:
        container.close()
        raise NiahError(f"'{path}' holds no video stream")
    if not any(not s.disposition & av.stream.Disposition.attached_pic for s in container.streams.video):
        container.close()
        raise NiahError(f"'{path}' holds no video stream, only a cover image (an audio file with cover art): "
                        "give a video")  # fmt: skip
    return container


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The first video stream that is not a cover image (attached picture)."""
    return next(s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)


class _Rgb:
    """Decoded frames → (H, W, 3) uint8 RGB arrays through one reused converter: `to_ndarray(format=)`
    builds a new one (and a new swscale context) per frame, 4–5× slower at 224×112."""

    def __init__(self) -> None:
        self._reformatter = av.video.reformatter.VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        return self._reformatter.reformat(frame, format="rgb24").to_ndarray()


def read_frames(path: str | Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decode RGB frames in order, each once; stops after `limit` frames if given."""
    container = _open(path)
    stream = _video_stream(container)
    stream.thread_type = "AUTO"
    rgb = _Rgb()
    try:
        for i, frame in enumerate(container.decode(stream)):
            if limit is not None and i >= limit:
                break
            yield rgb(frame)
    except av.error.FFmpegError as err:
        raise NiahError(f"cannot decode video '{path}': corrupt stream ({err})") from None
    finally:
        container.close()


def read_timed_frames(path: str | Path, allow_truncated: bool = False) -> Iterator[tuple[float, float, np.ndarray]]:
    """Decode (start seconds, duration seconds, RGB frame) in presentation order from exact timestamps,
    counted from the stream's first frame (an MPEG-TS or a cut whose clock starts at 101 s starts at 0).

    A video whose frames end before the duration its container states (a cut-off download, a
    half-copied file), or whose stream breaks after some frames, is truncated: NiahError when the
    reader reaches its end, unless `allow_truncated` (then a NiahWarning and the frames it has).
    A video stored rotated (a phone's display-rotation flag) is refused in one line: read as
    stored it would be a sideways haystack."""
    container = _open(path)
    stream = _video_stream(container)
    stream.thread_type = "AUTO"
    rgb = _Rgb()
    rate = stream.average_rate or stream.guessed_rate or 25
    default_duration = float(1 / rate)
    stated = float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / 1e6
    end, broken, first = 0.0, None, None
    try:
        for frame in container.decode(stream):
            # a raw elementary stream (.h264) has no timestamps: its frames follow one another
            pts = end + (first or 0.0) if frame.pts is None else float(frame.pts * stream.time_base)
            if first is None:
                first = pts
                if frame.rotation:
                    raise NiahError(f"video '{path}' is stored rotated by {frame.rotation:g}° (a display-rotation "
                                    "flag, as phones write): niah would read it sideways; rotate it first, e.g. "
                                    "ffmpeg -i IN -c:v libx264 OUT.mp4 (ffmpeg applies the flag)")  # fmt: skip
            duration = float(frame.duration * stream.time_base) if frame.duration else default_duration
            start = pts - first
            end = max(end, start + duration)
            yield start, duration, rgb(frame)
    except av.error.FFmpegError as err:
        if not end:
            raise NiahError(f"cannot decode video '{path}': corrupt stream ({err})") from None
        broken = str(err)
    finally:
        container.close()
    tolerance = max(1.0, 2 * default_duration)  # seconds: containers round; audio may run a little longer
    if broken or (stated and end < stated - tolerance):
        what = f"its stream breaks at {end:.1f} s ({broken})" if broken else f"it states {stated:.1f} s"
        message = f"video '{path}' is truncated: {what} and its frames end at {end:.1f} s"
        if not allow_truncated:
            raise NiahError(f"{message}; re-encode or copy it again, or pass --allow-truncated to use those "
                            f"{end:.1f} s")  # fmt: skip
        warnings.warn(NiahWarning(f"{message}; using those {end:.1f} s (--allow-truncated)"), stacklevel=2)


def source_rate(path: str | Path) -> float:
    """The video's average frame rate (frames per second)."""
    container = _open(path)
    try:
        stream = _video_stream(container)
        return float(stream.average_rate or stream.guessed_rate or 25)
    finally:
        container.close()


def sample_at_fps(path: str | Path, fps: float, allow_truncated: bool = False) -> Iterator[np.ndarray]:
    """Frames at exact times k/fps (k = 0, 1, ...): for each time, the frame on screen then."""
    k = 0
    for start, duration, frame in read_timed_frames(path, allow_truncated):
        while k / fps < start + duration - 1e-9:  # every sample time up to this frame's end shows it
            yield frame
            k += 1
