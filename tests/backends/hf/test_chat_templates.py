"""The prompt under the families' published chat templates (issue 14 item 3), token for token
against what transformers' own processors make of the same template output.

The reference text: the real template (tests/fixtures/chat_templates) applied to [video, question],
then the video placeholder expanded by the family processor's own `replace_video_token` and
`ProcessorMixin.get_text_with_replacements` (transformers' code, run on a stand-in processor
object because the full processors import torchvision, which does not load beside the CPU torch
wheel). niah shows each frame as one temporal unit (the frame repeated over the temporal patch),
so the reference video is the frames each sampled twice at the dataset's fps: grid_t = frames,
Qwen3-VL timestamps i / fps.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from types import SimpleNamespace

import pytest
import torch

from niah.backends.hf import HFBackend
from niah.backends.hf.prompt import question_text
from niah.data.dataset import Dataset
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

from .conftest import CHAT_TEMPLATES, FAMILIES, frame_token_id, refuses_reuse

PROCESSORS = {
    "qwen2_vl": "transformers.models.qwen2_vl.processing_qwen2_vl:Qwen2VLProcessor",
    "qwen2_5_vl": "transformers.models.qwen2_5_vl.processing_qwen2_5_vl:Qwen2_5_VLProcessor",
    "qwen3_vl": "transformers.models.qwen3_vl.processing_qwen3_vl:Qwen3VLProcessor",
    "qwen3_vl_moe": "transformers.models.qwen3_vl.processing_qwen3_vl:Qwen3VLProcessor",  # the MoE's processor
    "qwen3_5": "transformers.models.qwen3_vl.processing_qwen3_vl:Qwen3VLProcessor",  # transformers' auto mapping
    "qwen3_5_moe": "transformers.models.qwen3_vl.processing_qwen3_vl:Qwen3VLProcessor",
    "glm4v": "transformers.models.glm4v.processing_glm4v:Glm4vProcessor",
    "glm4v_moe": "transformers.models.glm4v.processing_glm4v:Glm4vProcessor",  # transformers' auto mapping
    "internvl": "transformers.models.internvl.processing_internvl:InternVLProcessor",
    "llava_onevision": "transformers.models.llava_onevision.processing_llava_onevision:LlavaOnevisionProcessor",
    "ernie4_5_vl_moe": "transformers.models.ernie4_5_vl_moe.processing_ernie4_5_vl_moe:Ernie4_5_VLMoeProcessor",
    "cosmos3_omni": "transformers.models.qwen3_vl.processing_qwen3_vl:Qwen3VLProcessor",  # Qwen3-VL's processors
    "cosmos3_edge": "transformers.models.cosmos3_edge.processing_cosmos3_edge:Cosmos3EdgeProcessor",
    "exaone4_5": "transformers.models.exaone4_5.processing_exaone4_5:Exaone4_5_Processor",
    "llava_onevision1_5": "transformers.models.exaone4_5.processing_exaone4_5:Exaone4_5_Processor",  # auto mapping
    "cohere_compass": "transformers.models.cohere_compass.processing_cohere_compass:CohereCompassProcessor",
    "ovis2_5": "transformers.models.ovis2_5.processing_ovis2_5:Ovis2_5Processor",
    "lfm3_vl": "transformers.models.lfm3_vl.processing_lfm3_vl:Lfm3VlProcessor",
    "qwen4_exp": "transformers.models.qwen3_vl.processing_qwen3_vl:Qwen3VLProcessor",  # transformers' auto mapping
    "hy_v4_vl": "transformers.models.hy_v4_vl.processing_hy_v4_vl:HYV4VLProcessor",
}
TOKENS = {  # the processors' placeholder tokens: image, video, vision start, vision end
    "qwen": ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"),
    "glm": ("<|image|>", "<|video|>", "<|begin_of_image|>", "<|end_of_image|>"),
    "internvl": ("<IMG_CONTEXT>", "<video>", "<img>", "</img>"),
    "llava": ("<image>", "<video>", None, None),
    "ernie": ("<|IMAGE_PLACEHOLDER|>", "<|VIDEO_PLACEHOLDER|>", "<|VIDEO_START|>", "<|VIDEO_END|>"),
    "cohere": ("<|IMAGE_PAD|>", "<|VIDEO_PAD|>", "<|VISION_START|>", "<|VISION_END|>"),
    "ovis": ("<|image_pad|>", "<|video_pad|>", "<|ovis_video_start|>", "<|ovis_video_end|>"),
}
RAW_FRAMES_PER_UNIT = {"ernie4_5_vl_moe": 2}
"""Families whose video grid counts raw frames, two of which merge into one niah frame's tokens."""


def _processor_class(family: str):
    import importlib

    module, name = PROCESSORS[family].split(":")
    return getattr(importlib.import_module(module), name)


def reference_text(family: str, template_text: str, frames: int, grid: tuple[int, int], fps: float,
                   tower_side: int = 0) -> str:  # fmt: skip
    """transformers' expansion of the template output's video placeholder for `frames` frames of
    `grid` (H, W) tokens each; `tower_side`: patches per side of LLaVA-OneVision's vision tower."""
    from transformers.processing_utils import ProcessorMixin
    from transformers.video_utils import VideoMetadata

    from niah.model_families import MODEL_FAMILIES as RULES

    cls = _processor_class(family)
    image, video, start, end = TOKENS[RULES[family].markup]
    proc = SimpleNamespace(image_token=image, video_token=video, vision_start_token=start, vision_end_token=end,
                           video_start_token=start, video_end_token=end,
                           start_image_token=start, end_image_token=end, image_seq_length=grid[0] * grid[1],
                           num_image_tokens=tower_side**2,
                           all_special_multimodal_tokens=[image, video],
                           video_processor=SimpleNamespace(merge_size=2, temporal_patch_size=2))  # fmt: skip
    for method in ("_calculate_timestamps", "replace_frame_token_id", "_num_frame_tokens"):  # helpers it calls on self
        if isinstance(inspect.getattr_static(cls, method, None), staticmethod):  # Cosmos3-Edge's
            setattr(proc, method, getattr(cls, method))
        elif hasattr(cls, method):
            setattr(proc, method, lambda *a, _m=method, **k: getattr(cls, _m)(proc, *a, **k))
    inputs = {
        "video_grid_thw": torch.tensor([[frames * RAW_FRAMES_PER_UNIT.get(family, 1), 2 * grid[0], 2 * grid[1]]]),
        "video_metadata": [VideoMetadata(total_num_frames=2 * frames, fps=fps,
                                         frames_indices=[i for i in range(frames) for _ in range(2)])],
        "pixel_values_videos": [torch.zeros(frames, 3, 1, 1)],  # InternVL counts its frames here
    }  # fmt: skip
    replacement = cls.replace_video_token(proc, inputs, 0)
    return ProcessorMixin.get_text_with_replacements(proc, [template_text], videos_replacements=[replacement])[0][0]


def published_sha256() -> dict[str, str]:
    table = (CHAT_TEMPLATES / "PROVENANCE.md").read_text()
    rows = re.findall(r"^\| `(\w+)\.jinja` \| [^|]+ \| ([0-9a-f]{64}) \|", table, re.M)
    return dict(rows)


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_5", "glm4v", "glm4v_moe", "internvl",
                                    "llava_onevision"])  # fmt: skip
def test_the_fixture_is_the_published_template(family):
    data = (CHAT_TEMPLATES / f"{family}.jinja").read_bytes()
    assert hashlib.sha256(data).hexdigest() == published_sha256()[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_equals_the_processors_expansion_of_the_real_template(family, tiny_checkpoints, short_dataset):
    backend = HFBackend(str(tiny_checkpoints[family]), device="cpu", no_prefix_reuse=refuses_reuse(family))
    dataset = Dataset(short_dataset)
    tok = backend.ck.tokenizer
    video_pad = frame_token_id(backend.ck.config, backend.ck.family.markup)
    for sample in make_plan(dataset, [TASKS["v-niah"], TASKS["v-niah-d"]], [resolve_variant("vanilla")])[::7]:
        segments = backend.segments(dataset, sample)
        ours = [i for s in segments for i in (s.ids if s.frame is None and s.vector is None else [video_pad] * s.n)]
        question = question_text(sample.query.question, list(sample.query.options))
        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
        # answering directly: a thinking model's template (Qwen3.5) closes an empty <think> block
        template_text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                enable_thinking=False)  # fmt: skip
        frames = sum(s.frame is not None for s in segments)
        vision = backend.ck.config.vision_config
        side = vision.image_size // vision.patch_size if family == "llava_onevision" else 0
        h, w = backend.grid(dataset)  # niah's W counts HY-V4-VL's newline token, its processor's grid does not
        grid = (h, w - backend.ck.pixels.row_newline)
        text = reference_text(family, template_text, frames, grid, dataset.options["fps"], side)
        assert tok.decode(ours) == text
        assert ours == tok.encode(text, add_special_tokens=False)


def test_the_qwen35_prompt_answers_after_an_empty_think_block(tiny_checkpoints, short_dataset):
    """Qwen3.5 is a thinking model: niah's prompt ends with the template's empty <think> block, so
    the scored answer letter is the first thing the model says."""
    dataset = Dataset(short_dataset)
    backend = HFBackend(str(tiny_checkpoints["qwen3_5"]), dtype="float32", device="cpu")
    sample = make_plan(dataset, [TASKS["v-niah"]], [resolve_variant("vanilla")])[0]
    tok = backend.ck.tokenizer
    tail = tok.decode([i for s in backend.segments(dataset, sample)[-1:] for i in s.ids])
    assert tail.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_the_qwen2_template_adds_its_default_system_turn_and_qwen3s_does_not(tiny_checkpoints, short_dataset):
    """What the published templates change against a bare ChatML prompt, so a template swap shows."""
    dataset = Dataset(short_dataset)
    sample = make_plan(dataset, [TASKS["v-niah"]], [resolve_variant("vanilla")])[0]
    starts = {}
    for family in ("qwen2_vl", "qwen3_vl"):
        backend = HFBackend(str(tiny_checkpoints[family]), device="cpu", no_prefix_reuse=refuses_reuse(family))
        starts[family] = backend.ck.tokenizer.decode(backend.segments(dataset, sample)[0].ids)
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    assert starts["qwen2_vl"].startswith(system + "<|im_start|>user\n")
    assert starts["qwen3_vl"] == "<|im_start|>user\n<|vision_start|><0.0 seconds><|vision_start|>"


def test_a_thinking_template_that_cannot_skip_thinking_is_warned_about(tiny_checkpoints, tmp_path):
    """GLM-4.1V-9B-Thinking's template has no switch to answer directly (its prompt ends at
    <|assistant|>, where the model opens <think>): niah says so; GLM-4.5V's closes an empty block."""
    import shutil
    import warnings

    from niah.errors import NiahWarning

    thinking = shutil.copytree(tiny_checkpoints["glm4v"], tmp_path / "GLM-4.1V-9B-Thinking")
    with pytest.warns(NiahWarning, match="asks it to think first"):
        HFBackend(str(thinking), device="cpu")
    closed = shutil.copytree(tiny_checkpoints["glm4v_moe"], tmp_path / "GLM-4.5V-Thinking")  # closes <think></think>
    with warnings.catch_warnings():
        warnings.simplefilter("error", NiahWarning)
        HFBackend(str(closed), device="cpu")
