from pathlib import Path

import pytest
from tiny_qwen import save_tiny_checkpoint

from niah.data.generate import generate, resolve_config
from niah.model_families import MODEL_FAMILIES


def _known_to_transformers(family: str) -> bool:
    """The installed transformers has the family's classes, and is not older than the family needs."""
    from transformers import AutoConfig

    from niah.backends.hf.checkpoint import check_transformers
    from niah.errors import NiahError

    try:
        AutoConfig.for_model(family)
        check_transformers(MODEL_FAMILIES[family], family)
    except (ValueError, KeyError, NiahError):
        return False
    return True


FAMILIES = [f for f in MODEL_FAMILIES if _known_to_transformers(f)]
"""Every registered family gets the family-parametrised tests (a new family module is tested by
adding it), where the installed transformers has its classes and is recent enough for it
(LLaVA-OneVision-1.5 is not in transformers 5.17; CohereCompass's rotary changed in 5.25): the
floor run of .ci/run tests the others."""
CHAT_TEMPLATES = Path(__file__).parents[2] / "fixtures" / "chat_templates"
"""The published Qwen chat templates, one <family>.jinja each (provenance in PROVENANCE.md there)."""


TEMPLATE_OF = {"qwen3_vl_moe": "qwen3_vl", "qwen3_5_moe": "qwen3_5", "cosmos3_omni": "qwen3_vl",
               "qwen4_exp": "qwen3_5"}  # fmt: skip
"""Families whose published checkpoints share another family's template (Qwen3-VL-30B-A3B and
-235B-A22B ship Qwen3-VL's; Qwen3.5's MoE checkpoints Qwen3.5's). Cosmos3-Omni's and Qwen4-Exp's own
templates were not reachable here: Qwen3-VL's and Qwen3.5's, whose architectures and processors
they take, stand in."""


def refuses_reuse(family: str) -> bool:
    """Whether the family's tiny checkpoint has sliding-window layers (EXAONE 4.5), whose cache
    cannot be cut back: niah runs it only with --no-prefix-reuse."""
    from niah.backends.hf.runner import attention_kinds
    from niah.backends.hf.tiny import tiny_config

    return "sliding_attention" in attention_kinds(tiny_config(family).get_text_config())


def frame_token_id(config, markup: str) -> int:
    """The token a frame's vision tokens stand on in input_ids: Qwen's video pad; GLM's image
    token, inside the video's begin/end tokens (Glm4vProcessor); InternVL's <IMG_CONTEXT>;
    LLaVA-OneVision's <video>, for the frames and the newline vector after them; ERNIE's video
    placeholder."""
    return config.image_token_id if markup in ("glm", "internvl") else config.video_token_id


NO_FIXTURE = {"ernie4_5_vl_moe", "cosmos3_edge", "exaone4_5", "llava_onevision1_5", "cohere_compass", "ovis2_5",
              "lfm3_vl", "hy_v4_vl"}  # fmt: skip
"""Families without a published-template fixture: ERNIE-4.5-VL's sits in transformers' conversion
script, which could not be brought here byte for byte; Cosmos3-Edge's, EXAONE 4.5's,
LLaVA-OneVision-1.5's, CohereCompass's, Ovis2.5's, LFM3-VL's and HY-V4-VL's were not reachable.
Their tiny checkpoints use niah's minimal template in the family's markup."""


def real_chat_template(family: str) -> str | None:
    if family in NO_FIXTURE:
        return None
    return (CHAT_TEMPLATES / f"{TEMPLATE_OF.get(family, family)}.jinja").read_text()


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """family → a saved tiny random checkpoint dir (config, weights, tokenizer with the family's
    published chat template, processor config)."""
    root = tmp_path_factory.mktemp("ckpt")
    return {f: save_tiny_checkpoint(root / f, f, template=real_chat_template(f)) for f in FAMILIES}


@pytest.fixture(scope="session")
def short_dataset(tmp_path_factory):
    """3-frame haystacks at 224×112 (8×4 tokens per frame): short enough that transformers 5.x's
    text continuation (s + max(H, W)) agrees with the original design (largest position + 1)."""
    config = resolve_config("demo", lengths="2,3", depths="0,50,100", needles=2, distractor_period=2)
    return generate(tmp_path_factory.mktemp("data") / "short", config)


@pytest.fixture(scope="session")
def grid_dataset(tmp_path_factory):
    config = resolve_config("demo", lengths="8,12,16", depths="0,50,100", needles=2, distractor_period=4)
    return generate(tmp_path_factory.mktemp("data") / "grid", config)


@pytest.fixture(scope="session")
def multi_dataset(tmp_path_factory):
    """The multi-needle tasks' cells (3 needles: ordering needs three keys) on 8-frame haystacks."""
    config = resolve_config("demo", lengths="8", depths="0,100", needles=3, distractor_period=4,
                            tasks="ordering,ordering-d,counting,multi-key,distance")  # fmt: skip
    return generate(tmp_path_factory.mktemp("data") / "multi", config)
