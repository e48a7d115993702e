"""Ovis2.5 (transformers 5.25 models/ovis2_5): a Qwen3 text model (1-D RoPE) behind a SigLIP2-NaViT
tower fed Qwen2-VL-ordered patches one frame per temporal patch, whose visual tokenizer turns every
merged patch into a probability-weighted mix of a learned visual vocabulary. The video is one run,
video_start + video pads + video_end (Ovis2_5Processor), and the model puts two of its four
learned *visual indicator* vectors in place of the video_start and video_end tokens' embeddings
(Ovis2_5Model._merge_visual_features): niah embeds those tokens as the model does
(`indicator_embeddings`). The boundary tokens' text is read from the checkpoint's own tokenizer by
the config's ids (their names in Ovis2.5's published tokenizer were not reachable here; the tiny
tokenizer names them <|ovis_video_start|> ...). Processor file: the defaults of transformers'
Ovis2_5VideoProcessor (the checkpoints' own files were not reachable here)."""

from __future__ import annotations

from typing import Any

from niah.model_families.base import TINY_TEXT, Family, VideoMarkup

RANK = 11

INDICATORS = ("image_start_token_id", "image_end_token_id", "video_start_token_id", "video_end_token_id")
"""The config's boundary-token fields, in the order of the model's four visual indicator vectors."""

MARKUPS = {
    "ovis": VideoMarkup("", "<|video_pad|>", "", None, run=("<|ovis_video_start|>", "<|ovis_video_end|>"),
                        run_token_ids=("video_start_token_id", "video_end_token_id"),
                        token_ids={"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
                                   "image_start_token_id": "<|ovis_image_start|>",
                                   "image_end_token_id": "<|ovis_image_end|>",
                                   "video_start_token_id": "<|ovis_video_start|>",
                                   "video_end_token_id": "<|ovis_video_end|>"},
                        special_tokens=("<|image_pad|>", "<|video_pad|>", "<|ovis_image_start|>", "<|ovis_image_end|>",
                                        "<|ovis_video_start|>", "<|ovis_video_end|>")),
}  # fmt: skip

PROCESSORS = {"video_preprocessor_config.json": {  # Ovis2_5VideoProcessor's own defaults (transformers 5.25)
    "video_processor_type": "Ovis2_5VideoProcessor", "patch_size": 16, "temporal_patch_size": 1, "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    "size": {"shortest_edge": 448 * 448, "longest_edge": 1344 * 1792}}}  # fmt: skip


def indicator_embeddings(model: Any) -> dict[int, Any]:
    """token id → the (hidden,) learned vector Ovis2.5 embeds in place of that boundary token."""
    inner = model.model
    device = next(inner.multi_modal_projector.parameters()).device
    vectors = inner.multi_modal_projector.get_visual_indicator_features(device)  # (4, hidden)
    return {getattr(model.config, name): vectors[i] for i, name in enumerate(INDICATORS)}


def tiny_ovis2_5(mrope_section: tuple[int, int, int], theta: float):
    """A Qwen3 text model (head_dim 16) behind a 1-layer SigLIP2-NaViT of 16-px patches and a
    64-entry visual vocabulary."""
    from transformers import Ovis2_5Config

    text = dict(TINY_TEXT, model_type="qwen3", head_dim=16, rope_parameters={"rope_type": "default",
                                                                             "rope_theta": theta})  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, patch_size=16,
                  image_size=64, window_size=32, vocab_size=64, num_visual_indicator_tokens=4)  # fmt: skip
    return Ovis2_5Config(text_config=text, vision_config=vision)


FAMILIES = [
    Family("ovis2_5", "Ovis2.5", "Ovis2_5ForConditionalGeneration", "vanilla", frame_runs=False, deepstack=False,
           markup="ovis", vision="video-features", tiny=tiny_ovis2_5, processor_configs=PROCESSORS,
           resample=2, replaced_embeddings=indicator_embeddings),  # Ovis2_5VideoProcessor: bilinear
]  # fmt: skip
