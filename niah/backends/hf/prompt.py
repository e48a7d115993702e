"""A sample's prompt as segments: text pieces and frames, in order.

The model's chat template is applied to [video, question + lettered options] and the video
placeholder's pad token is replaced by the frames, as transformers' processors do, in the
family's markup (niah.model_families.VIDEO_MARKUPS, from each family's module): for Qwen2-VL /
Qwen2.5-VL one contiguous run between the template's vision_start and vision_end; for Qwen3-VL
each frame as "<t seconds>" + vision_start + frame + vision_end, t being the frame's time in the
cell (index / fps), all inside the template's own vision_start ... vision_end (transformers 5.x's
Qwen3VLProcessor keeps that outer pair); for GLM-4.1V / 4.5V each frame as begin_of_image + frame
+ end_of_image + whole seconds ("3"), inside the template's begin_of_video ... end_of_video
(Glm4vProcessor); for InternVL each frame as "FrameN: <img>" + frame + "</img>", one per line, in
place of the template's <video> (InternVLProcessor); for LLaVA-OneVision the frames as one run and
then the model's learned image_newline vector, in place of <video> (LlavaOnevisionProcessor).
Tested token for token against the processors' own expansion in test_chat_templates.py.

Segments make prefix reuse exact: two samples share a KV-cache prefix exactly as far as their
segment lists agree (same text, same frames at the same places, hence the same positions).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from niah.data.dataset import FrameRef
from niah.data.needles import LETTERS
from niah.errors import NiahError
from niah.model_families import VideoMarkup
from niah.rope import Layout, TextRun, VisionRun

INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."  # LongVA's open questions (dataset.json)


@dataclass(frozen=True)
class Segment:
    """Text (`ids`), one frame (`frame` key, `n` vision tokens) or one of the model's learned
    vectors (`vector`, the attribute of model.model holding it: LLaVA-OneVision's image_newline,
    one token after the frames)."""

    key: str
    n: int
    ids: tuple[int, ...] = ()
    frame: str | None = None
    vector: str | None = None


def question_text(question: str, options: list[str]) -> str:
    """The question with lettered options (LongVA / Video-MME style); an open question (one option:
    its answer) with LongVA's single-word instruction, as LongVA's evaluation asks it."""
    if len(options) <= 1:
        return f"{question}\n{OPEN_INSTRUCTION}"
    lines = [question, *(f"{LETTERS[i]}. {o}" for i, o in enumerate(options)), INSTRUCTION]
    return "\n".join(lines)


def split_template(tokenizer, question: str, markup: VideoMarkup, model: str = "the model") -> tuple[str, str]:
    """(text before the video's pad, text after it) from the model's chat template; NiahError
    when the template places no video in the family's markup."""
    if not getattr(tokenizer, "chat_template", None):  # never a hand-written stand-in: the prompt is the model's
        raise NiahError(f"the tokenizer of {model} has no chat template: put the model's own chat_template.jinja "
                        "(or chat_template.json) beside its tokenizer")  # fmt: skip
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
    # enable_thinking=False: templates of thinking models (Qwen3.5) then close an empty <think> block, so the
    # answer comes first, as niah scores it; templates without the switch ignore it
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    if markup.placeholder not in text:
        raise NiahError(f"the chat template of {model} places no video (no {markup.placeholder} in its output for a "
                        "video message): use the checkpoint's own chat_template.json or a video LLM's "
                        "tokenizer")  # fmt: skip
    before, after = text.split(markup.placeholder, 1)
    return before + markup.open, markup.close + after


def checkpoint_markup(markup: VideoMarkup, tokenizer, config, model: str = "the model") -> VideoMarkup:
    """The markup with `run` spelled by the checkpoint's own tokenizer where the markup names the
    config's token-id fields for it (Ovis2.5's video_start / video_end); NiahError when the config
    lacks such a field or the tokenizer has no token of that id."""
    if markup.run_token_ids is None:
        return markup
    run = []
    for name in markup.run_token_ids:
        token_id = getattr(config, name, None)
        token = tokenizer.convert_ids_to_tokens(token_id) if isinstance(token_id, int) else None
        if token is None or tokenizer.convert_tokens_to_ids(token) != token_id:
            raise NiahError(f"{model}'s config.json sets {name} = {token_id}, which is no token of its tokenizer: "
                            "use the checkpoint's own tokenizer files")  # fmt: skip
        run.append(token)
    return replace(markup, run=(run[0], run[1]))


def frame_key(ref: FrameRef, index: int, timed: bool) -> str:
    """A frame's vision-cache key: the frame, or (for a family that draws each frame's time into
    its pixels, ERNIE-4.5-VL) the frame at its index in the video, "h12@14"."""
    return f"{ref.key}@{index}" if timed else ref.key


def build_segments(tokenizer, question: str, frames: list[FrameRef], tokens_per_frame: int, fps: float,
                   frame_runs: bool, markup: VideoMarkup, timed: bool = False) -> list[Segment]:  # fmt: skip
    """The sample's segments; adjacent text pieces are merged into one segment. `timed`: frames
    are keyed by their index too (`frame_key`)."""
    before, after = split_template(tokenizer, question, markup)
    pieces: list[tuple[str, str]] = [("text", before + ("" if frame_runs else markup.run[0]))]  # (kind, value)
    for i, ref in enumerate(frames):
        if frame_runs:
            head, tail = markup.frame(i, i / fps)
            pieces += [("text", head), ("frame", frame_key(ref, i, timed)), ("text", tail)]
        else:
            pieces.append(("frame", frame_key(ref, i, timed)))
    if markup.trailer:
        pieces.append(("vector", markup.trailer))
    pieces.append(("text", ("" if frame_runs else markup.run[1]) + after))
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
        elif kind == "vector":
            out.append(Segment("v:" + value, 1, vector=value))
        else:
            out.append(Segment("f:" + value, tokens_per_frame, frame=value))
    return out


def continuation_ids(tokenizer, context: Segment, continuation: str) -> list[int]:
    """The tokens of `continuation` right after the prompt's last text segment `context`, encoded in
    context as lm-eval's `_encode_pair` does: encode context + continuation and keep what follows
    the context's own tokens. A SentencePiece tokenizer encodes "A" alone as "▁A" but after the
    generation prompt's newline as "A"; a byte-level BPE encodes both alike."""
    whole = tokenizer.encode(context.key[2:] + continuation, add_special_tokens=False)
    tail = list(whole[len(context.ids) :])
    if not tail:
        raise NiahError(f"the tokenizer merges {continuation!r} into the prompt's last token, so it cannot be scored "
                        "after the prompt")  # fmt: skip
    return tail


def layout_of(segments: list[Segment], grid: tuple[int, int], fps: float) -> Layout:
    """The token layout of the segments: consecutive frames form one video run (1/fps s per frame);
    a learned vector after them takes the next position, as text does."""
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
