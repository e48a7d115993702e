"""Token layouts: the runs of text and vision tokens a video LLM sees, and their string form.

Grammar (the CLI's ``--layout``), comma-separated runs in sequence order:

- ``text:N``       N non-vision tokens (special tokens such as vision_start/vision_end included)
- ``video:TxHxW``  T temporal units of an H×W token grid (after the 2×2 spatial merge)
- ``video:TxHxW@S`` the same with S seconds per temporal unit (time-aligned variants use it;
  without it a unit counts as 1 second, as transformers assumes)
- ``image:HxW``    one H×W token grid

Example: ``text:5,video:8x9x16@2,text:20`` (5 tokens, 8 units of 9×16 tokens, 2 s apart, 20 tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from niah.errors import NiahError


@dataclass(frozen=True)
class TextRun:
    """`length` text tokens (any non-vision token)."""

    length: int

    @property
    def num_tokens(self) -> int:
        return self.length

    def __str__(self) -> str:
        return f"text:{self.length}"


@dataclass(frozen=True)
class VisionRun:
    """A (T, H, W) grid of vision tokens after spatial merge, in (t, y, x) row-major order.

    `kind` is "video" or "image" (an image is T = 1). `seconds` is the duration of one temporal
    unit in seconds, or None when the layout did not say (read as 1.0 s).
    """

    kind: str
    frames: int
    height: int
    width: int
    seconds: float | None = None

    @property
    def num_tokens(self) -> int:
        return self.frames * self.height * self.width

    def __str__(self) -> str:
        if self.kind == "image":
            return f"image:{self.height}x{self.width}"
        suffix = "" if self.seconds is None else f"@{self.seconds:g}"
        return f"video:{self.frames}x{self.height}x{self.width}{suffix}"


Run = TextRun | VisionRun

_TEXT = re.compile(r"^text:(\d+)$")
_VIDEO = re.compile(r"^video:(\d+)x(\d+)x(\d+)(?:@([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?))?$")
_IMAGE = re.compile(r"^image:(\d+)x(\d+)$")


@dataclass(frozen=True)
class Layout:
    """A sequence of runs; `num_tokens` is the sequence length L."""

    runs: tuple[Run, ...]

    @property
    def num_tokens(self) -> int:
        return sum(run.num_tokens for run in self.runs)

    def __str__(self) -> str:
        return ",".join(str(run) for run in self.runs)

    @classmethod
    def parse(cls, text: str) -> Layout:
        """Parse the string form; a malformed run raises NiahError naming it and the grammar."""
        runs: list[Run] = []
        for part in (p.strip() for p in text.split(",")):
            runs.append(_parse_run(part))
        if not runs:
            raise NiahError("empty layout: give runs such as 'text:5,video:4x9x16,text:20'")
        return cls(tuple(runs))


def _parse_run(part: str) -> Run:
    grammar = "expected text:N, video:TxHxW, video:TxHxW@SECONDS or image:HxW"
    if m := _TEXT.match(part):
        run: Run = TextRun(int(m[1]))
        sizes = [run.length]
    elif m := _VIDEO.match(part):
        seconds = float(m[4]) if m[4] is not None else None
        if seconds is not None and seconds <= 0:
            raise NiahError(f"malformed layout run '{part}': seconds per unit must be > 0")
        run = VisionRun("video", int(m[1]), int(m[2]), int(m[3]), seconds)
        sizes = [run.frames, run.height, run.width]
    elif m := _IMAGE.match(part):
        run = VisionRun("image", 1, int(m[1]), int(m[2]))
        sizes = [run.height, run.width]
    else:
        raise NiahError(f"malformed layout run '{part}': {grammar}")
    if min(sizes) < 1:
        raise NiahError(f"malformed layout run '{part}': every size must be at least 1")
    return run


def split_frames(layout: Layout, separator_tokens: int) -> Layout:
    """Qwen3-VL's form of a layout: each temporal unit of a video becomes its own run.

    Every unit after the first is preceded by `separator_tokens` text tokens (Qwen3-VL writes a
    timestamp, vision_end and vision_start between units). Images and text are unchanged.
    """
    runs: list[Run] = []
    for run in layout.runs:
        if isinstance(run, VisionRun) and run.kind == "video":
            for f in range(run.frames):
                if f and separator_tokens:
                    runs.append(TextRun(separator_tokens))
                runs.append(VisionRun("video", 1, run.height, run.width, run.seconds))
        else:
            runs.append(run)
    return Layout(tuple(runs))
