"""A sample's prompt as segments: text pieces and frames, in order.

The model's chat template is applied to [video, question + lettered options] and the video
placeholder's <|video_pad|> is replaced by the frames, as transformers' processors do: for
Qwen2-VL / Qwen2.5-VL one contiguous run between the template's vision_start and vision_end; for
Qwen3-VL each frame as "<t seconds>" + vision_start + frame + vision_end, t being the frame's time
in the cell (index / fps), all inside the template's own vision_start ... vision_end (transformers
5.x's Qwen3VLProcessor keeps that outer pair; tested token for token in test_chat_templates.py).

Segments make prefix reuse exact: two samples share a KV-cache prefix exactly as far as their
segment lists agree (same text, same frames at the same places, hence the same positions).
"""

from __future__ import annotations

from dataclasses import dataclass

from niah.data.dataset import FrameRef
from niah.data.needles import LETTERS
from niah.errors import NiahError
from niah.rope import Layout, TextRun, VisionRun

VIDEO_PLACEHOLDER = "<|vision_start|><|video_pad|><|vision_end|>"
INSTRUCTION = "Answer with the option's letter from the given choices directly."


@dataclass(frozen=True)
class Segment:
    """Text (`ids`) or one frame (`frame` key, `n` vision tokens)."""

    key: str
    n: int
    ids: tuple[int, ...] = ()
    frame: str | None = None


def question_text(question: str, options: list[str]) -> str:
    """The question with lettered options (LongVA / Video-MME style); open questions as they are."""
    if len(options) <= 1:
        return question
    lines = [question, *(f"{LETTERS[i]}. {o}" for i, o in enumerate(options)), INSTRUCTION]
    return "\n".join(lines)


def split_template(tokenizer, question: str, model: str = "the model") -> tuple[str, str]:
    """(text before the video, text after it) from the model's chat template; NiahError when
    the template places no video."""
    if not getattr(tokenizer, "chat_template", None):  # never a hand-written stand-in: the prompt is the model's
        raise NiahError(f"the tokenizer of {model} has no chat template: put the model's own chat_template.jinja "
                        "(or chat_template.json) beside its tokenizer")  # fmt: skip
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
    # enable_thinking=False: templates of thinking models (Qwen3.5) then close an empty <think> block, so the
    # answer comes first, as niah scores it; templates without the switch ignore it
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    if VIDEO_PLACEHOLDER not in text:
        raise NiahError(f"the chat template of {model} places no video (no {VIDEO_PLACEHOLDER} in its output for a "
                        "video message): use the checkpoint's own chat_template.json or a video LLM's "
                        "tokenizer")  # fmt: skip
    before, after = text.split(VIDEO_PLACEHOLDER, 1)
    return before, after


def build_segments(tokenizer, question: str, frames: list[FrameRef], tokens_per_frame: int, fps: float,
                   frame_runs: bool) -> list[Segment]:  # fmt: skip
    """The sample's segments; adjacent text pieces are merged into one segment."""
    before, after = split_template(tokenizer, question)
    pieces: list[tuple[str, str]] = []  # ("text", str) | ("frame", key)
    pieces.append(("text", before + "<|vision_start|>"))
    for i, ref in enumerate(frames):
        if frame_runs:
            pieces += [("text", f"<{i / fps:.1f} seconds><|vision_start|>"), ("frame", ref.key)]
            pieces.append(("text", "<|vision_end|>"))
        else:
            pieces.append(("frame", ref.key))
    pieces.append(("text", "<|vision_end|>" + after))
    merged: list[tuple[str, str]] = []
    for kind, value in pieces:
        if kind == "text" and merged and merged[-1][0] == "text":
            merged[-1] = ("text", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    out = []
    for kind, value in merged:
        if kind == "text":
            ids = tuple(tokenizer.encode(value, add_special_tokens=False))
            out.append(Segment("t:" + value, len(ids), ids=ids))
        else:
            out.append(Segment("f:" + value, tokens_per_frame, frame=value))
    return out


def layout_of(segments: list[Segment], grid: tuple[int, int], fps: float) -> Layout:
    """The token layout of the segments: consecutive frames form one video run (1/fps s per frame)."""
    runs: list[TextRun | VisionRun] = []
    for seg in segments:
        if seg.frame is None:
            runs.append(TextRun(seg.n))
        elif runs and isinstance(runs[-1], VisionRun):
            last = runs[-1]
            runs[-1] = VisionRun("video", last.frames + 1, last.height, last.width, last.seconds)
        else:
            runs.append(VisionRun("video", 1, grid[0], grid[1], 1.0 / fps))
    return Layout(tuple(runs))
