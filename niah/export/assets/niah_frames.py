"""Compose a niah dataset row's frames from the shared haystack and its inserted images.

Shipped with every `niah export` (standalone: numpy, PyAV and Pillow, no niah needed). A row says
how long its haystack is (`length`, frames), the shared haystack video (`haystack`), and where
each inserted image goes (`insertions`: sequence index and image path); every other position is
the next haystack frame, in order. The frames equal niah's own for that cell, pixel for pixel.

    import datasets, niah_frames
    rows = datasets.load_dataset("path/to/export", "v-niah", split="test")
    frames = niah_frames.frames(rows[0], "path/to/export")          # list of (H, W, 3) uint8 RGB
    niah_frames.write_mp4(rows[0], "path/to/export", "cell.mp4")    # one MP4 per row, at the row's fps
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def frames(row: dict, root: str | Path) -> list[np.ndarray]:
    """The row's frames in order, (H, W, 3) uint8 RGB each: `length` haystack frames with the
    inserted images in place."""
    root = Path(root)
    inserted = {int(i["index"]): i["image"] for i in row["insertions"]}
    total = int(row["length"]) + len(inserted)
    out: list[np.ndarray] = []
    haystack = _decode(root / row["haystack"], int(row["length"]))
    for k in range(total):
        out.append(np.asarray(Image.open(root / inserted[k]).convert("RGB")) if k in inserted else next(haystack))
    return out


def _decode(path: Path, count: int):
    container = av.open(str(path))
    rgb = av.video.reformatter.VideoReformatter()  # one converter for every frame: to_ndarray(format=) makes one each
    try:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= count:
                break
            yield rgb.reformat(frame, format="rgb24").to_ndarray()
    finally:
        container.close()


def write_mp4(row: dict, root: str | Path, path: str | Path) -> Path:
    """The row's frames as an H.264 MP4 at the row's fps (what a harness that reads videos needs)."""
    images = frames(row, root)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(row["fps"]).limit_denominator(1000))
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)
    return path
