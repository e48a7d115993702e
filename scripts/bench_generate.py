"""Benchmark: dataset generation and read-back speed vs raw PyAV encode/decode of the same frames.

Usage: python scripts/bench_generate.py [--frames 600] [--width 448] [--height 252]

All four numbers come from one run on one machine, side by side:
  generate   niah's whole `generate` (synthetic frames + needles + H.264 encode + manifest)
  raw encode a bare PyAV libx264 loop over the same frames, held in memory (the limit)
  read back  Dataset.frames(cell) over the longest cell (decode + insertions)
  raw decode a bare PyAV decode loop over the same haystack.mp4 (the limit)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.data.synthetic import SyntheticHaystack
from niah.data.video_io import X264_OPTIONS


def raw_encode(path: Path, frames, width: int, height: int) -> None:
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=Fraction(1))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = dict(X264_OPTIONS)
    for f in frames:
        for p in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
            container.mux(p)
    for p in stream.encode():
        container.mux(p)
    container.close()


def raw_decode(path: Path) -> int:
    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rgb = av.video.reformatter.VideoReformatter()
    n = sum(1 for f in container.decode(stream) if rgb.reformat(f, format="rgb24").to_ndarray() is not None)
    container.close()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--width", type=int, default=448)
    ap.add_argument("--height", type=int, default=252)
    args = ap.parse_args()
    n = args.frames
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = resolve_config("base", lengths=str(n), depths="50", needles=1, width=args.width, height=args.height)
        t = time.perf_counter()
        ds = Dataset(generate(tmp / "ds", config))
        gen = n / (time.perf_counter() - t)

        frames = list(SyntheticHaystack(0, args.width, args.height).frames(n))
        t = time.perf_counter()
        raw_encode(tmp / "raw.mp4", frames, args.width, args.height)
        enc = n / (time.perf_counter() - t)

        cell = max(ds.cells, key=lambda c: c.num_frames)
        t = time.perf_counter()
        count = sum(1 for _ in ds.frames(cell))
        read = count / (time.perf_counter() - t)

        t = time.perf_counter()
        dec = raw_decode(ds.path / "haystack.mp4") / (time.perf_counter() - t)
    print(f"{n} frames at {args.width}x{args.height}")
    print(f"generate   {gen:7.0f} frames/s   = {gen / enc:4.0%} of raw encode {enc:7.0f} frames/s")
    print(f"read back  {read:7.0f} frames/s   = {read / dec:4.0%} of raw decode {dec:7.0f} frames/s")


if __name__ == "__main__":
    main()
