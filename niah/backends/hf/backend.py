"""The transformers backend: a checkpoint of a family in niah.model_families answering samples.

Per sample: the frames' cached vision embeddings and the prompt's text embeddings are assembled
into inputs_embeds; the variant's position ids (niah.rope) are passed explicitly and the model's
rotary embedding is replaced by the variant's (niah.backends.hf.rotary) — no edited files, no
reload between variants. Prefill is chunked and reuses the prefix shared with the previous
sample (samples are ordered so neighbours share the most). Three metrics per sample (niah.tasks.metrics):
`exact_match` (the answer's tokens teacher-forced, every argmax over the whole vocabulary must match —
LongVA's and VideoRoPE's rule), `mc` (the argmax of the options' log-likelihoods) and `generate`
(greedy text, the option it names parsed as lmms-eval does). Every continuation is encoded in
context, after the prompt's last text (lm-eval's rule: a SentencePiece tokenizer encodes "A" alone
otherwise than after a newline).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from niah.answer_attention import Recorder, token_frames
from niah.backends.base import Backend, Sample, SampleResult
from niah.backends.hf import rotary, vision
from niah.backends.hf.checkpoint import (
    Checkpoint,
    check_load_options,
    default_device,
    font_path,
    load_model,
    open_checkpoint,
    resolve_dtype,
    weights_identity,
)
from niah.backends.hf.indexer import IndexerProbe
from niah.backends.hf.pixels import draw_time, target_size, tokens_per_frame
from niah.backends.hf.prompt import (
    Segment,
    build_segments,
    checkpoint_markup,
    continuation_ids,
    frame_key,
    layout_of,
    question_text,
    split_template,
)
from niah.backends.hf.runner import (
    OOM_ERRORS,
    PromptRunner,
    SampleFailed,
    attention_kinds,
    check_attention,
    free_memory,
    shared_tokens,
)
from niah.data.dataset import Dataset, FrameRef, sha256_file
from niah.errors import NiahError, NiahWarning, unknown
from niah.model_families import VIDEO_MARKUPS
from niah.rope import Layout, RopeVariant, TextRun, VisionRun, inert_options, resolve_variant
from niah.tasks import Outcome
from niah.tasks.metrics import GENERATE_TOKENS, generated_outcome

DEFAULT_CHUNK = 8192  # tokens per prefill chunk
VIDEO_LAYOUTS = ("timestamped", "contiguous")
"""timestamped: each frame its own run with a timestamp text (the native prompt of Qwen3-VL, Qwen3.5, GLM-4.xV);
contiguous: the whole video one run (Qwen2-VL's form), where every temporal rule acts."""


def _widths(text_config) -> tuple[int, int]:
    """(query width d = heads × head_dim, key/value width) of a text config."""
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads
    return text_config.num_attention_heads * head_dim, text_config.num_key_value_heads * head_dim


def linear_params(text_config) -> int:
    """P: the weights of the decoder layers' matrices (q, k, v, o and the gated MLP), the
    parameters every prompt token multiplies (Qwen2-VL-7B: 6.53 B)."""
    d, kv = _widths(text_config)
    h = text_config.hidden_size
    return text_config.num_hidden_layers * h * (2 * d + 2 * kv + 3 * text_config.intermediate_size)


def prefill_flops(text_config, tokens: int) -> float:
    """FLOPs of a causal prefill of N tokens: 2·P·N for the linear layers plus 2·layers·N²·d for
    attention (QKᵀ and AV, each N²/2·d multiply-adds per layer)."""
    d, _ = _widths(text_config)
    return 2 * linear_params(text_config) * tokens + 2 * text_config.num_hidden_layers * tokens**2 * d


GiB = 2**30
BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def full_attention_layers(text_config) -> int:
    """Layers that keep every token's keys and values: full attention, with or without a sparse
    indexer (Qwen4-Exp's), not Qwen3.5's linear-attention ones (their state does not grow with the
    prompt) or sliding windows."""
    kinds = getattr(text_config, "layer_types", None) or ["full_attention"] * text_config.num_hidden_layers
    return sum(k in ("full_attention", "indexed_attention") for k in kinds)


def kv_cache_bytes(text_config, tokens: int, dtype: str) -> int:
    """Bytes of the KV cache of `tokens` tokens: keys and values of every full-attention layer, and
    of at most `sliding_window` tokens in each sliding-window layer (EXAONE 4.5, CohereCompass); an
    MLA model keeps its kv_lora_rank latent and qk_rope_head_dim rotated key a token instead."""
    _, kv = _widths(text_config)
    per_token = 2 * kv  # keys and values
    if getattr(text_config, "kv_lora_rank", None):  # MLA (HY-V4-VL): the compressed latent and the rotated key
        per_token = text_config.kv_lora_rank + text_config.qk_rope_head_dim
    kinds = getattr(text_config, "layer_types", None) or []
    window = min(tokens, getattr(text_config, "sliding_window", None) or tokens)
    kept = full_attention_layers(text_config) * tokens + kinds.count("sliding_attention") * window
    return per_token * kept * BYTES[dtype]


def count_params(ck: Checkpoint) -> int:
    """Parameters of the checkpoint from its safetensors headers (no weights read), or, without
    saved weights, the decoder matrices plus embeddings from the config (a lower bound)."""
    from safetensors import safe_open

    files = sorted(Path(ck.ref).glob("*.safetensors")) if Path(ck.ref).is_dir() else []
    total = 0
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                total += int(np.prod(f.get_slice(name).get_shape()))
    if total:
        return total
    tc = rotary.text_config(ck.config)
    return linear_params(tc) + 2 * tc.vocab_size * tc.hidden_size


def _size(n: float) -> str:
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / 2**20:.1f} MiB"


def device_memory(device: str) -> int | None:
    """Total bytes of a CUDA device, None for the CPU (no limit niah can read reliably)."""
    target = torch.device(device)
    return torch.cuda.get_device_properties(target).total_memory if target.type == "cuda" else None


class HFBackend(Backend):
    """See the module docstring. The weights load on the first `run`, not at construction."""

    def __init__(self, ref: str, seed: int = 0, dtype: str = "auto", device: str | None = None,
                 attn_implementation: str = "sdpa", device_map: str | None = None, random_weights: bool = False,
                 chunk_tokens: int | None = None, max_pixels: int | None = None, no_prefix_reuse: bool = False,
                 cache_dir: str | None = None, video_layout: str | None = None):  # fmt: skip
        check_load_options(dtype, attn_implementation, device_map, random_weights, device)
        self.ck: Checkpoint = open_checkpoint(ref)
        self.markup = checkpoint_markup(VIDEO_MARKUPS[self.ck.family.markup], self.ck.tokenizer, self.ck.config, ref)
        self.font = font_path(self.ck.ref, self.ck.pixels)  # ERNIE-4.5-VL draws each frame's time with it
        _, after = split_template(self.ck.tokenizer, "?", self.markup, ref)  # placing no video fails here, before work
        if "think" in Path(ref).name.lower() and "</think>" not in after:
            warnings.warn(NiahWarning(f"hf:{ref} is a thinking model and its chat template asks it to think first "
                                      f"(the prompt ends {after[-24:]!r}, no closed <think></think>): niah scores the "
                                      "answer right after the prompt, where it would begin to think, so expect low "
                                      "exact match; use its non-thinking sibling, or give it a chat_template.jinja "
                                      "whose generation prompt closes an empty think block"), stacklevel=2)  # fmt: skip
        if self.ck.pixels.defaulted:
            lacks = ", ".join(self.ck.pixels.defaulted)
            warnings.warn(NiahWarning(f"{self.ck.pixels.source} of '{ref}' lacks {lacks}: niah takes the processor "
                                      "class's defaults, as transformers would, and records them in run.json "
                                      "(backend.pixel_defaults)"), stacklevel=2)  # fmt: skip
        if why := check_attention(rotary.text_config(self.ck.config), reuse=not no_prefix_reuse):
            raise NiahError(f"hf:{ref} cannot run in niah: {why}")
        native_layout = "timestamped" if self.ck.family.frame_runs else "contiguous"
        self.video_layout = video_layout or native_layout
        if self.video_layout not in VIDEO_LAYOUTS:
            raise unknown("video layout", self.video_layout, VIDEO_LAYOUTS)
        if self.video_layout == "timestamped" and native_layout != "timestamped":
            raise NiahError(f"--video-layout timestamped is the per-frame prompt of Qwen3-VL, GLM and InternVL; "
                            f"{self.ck.family.title} takes its video as one contiguous run")  # fmt: skip
        if needed := self.ck.family.text_attention:  # niah's chunked sdpa cannot serve its text model
            if attn_implementation == "flash_attention_2":
                raise NiahError(f"{self.ck.family.title} runs on transformers' {needed} attention "
                                f"({self.ck.family.why_text_attention}), not flash_attention_2: use "
                                f"--attn-implementation sdpa (niah then loads it on {needed})")  # fmt: skip
            attn_implementation = needed if attn_implementation == "sdpa" else attn_implementation
        if attn_implementation == "flash_attention_2" and any(
                s.section is None for s in rotary.layer_rope_settings(self.ck.config).values()):
            raise NiahError(f"{self.ck.family.title}'s text model takes 1-D position ids, which flash_attention_2 "
                            "reads to find packed sequences; niah gives it three rows (t, h, w), never checked there: "
                            "use --attn-implementation sdpa (the default: the flash kernel on CUDA)")  # fmt: skip
        if max_pixels and self.ck.pixels.fixed_size:
            h, w = self.ck.pixels.fixed_size
            raise NiahError(f"--max-pixels changes nothing for {self.ck.family.title}: every frame is one {w}×{h} tile "
                            f"(its vision tower's image_size); drop --max-pixels")  # fmt: skip
        if max_pixels:
            from dataclasses import replace

            self.ck.pixels = replace(self.ck.pixels, max_pixels=max_pixels, per_video=False, frame_cap_tokens=None)
        self.name = f"hf:{ref}"
        self.marks = {"random_weights": True} if random_weights else {}
        self.options = dict(dtype=dtype, device=device, attn_implementation=attn_implementation,
                            device_map=device_map, random_weights=random_weights)  # fmt: skip
        self.seed = seed
        self.dtype = resolve_dtype(dtype, device, device_map)
        self.chunk_tokens = chunk_tokens or DEFAULT_CHUNK
        self.reuse = not no_prefix_reuse
        self.cache_dir = cache_dir
        self.model = None
        self.runner: PromptRunner | None = None
        self.indexer: IndexerProbe | None = None  # set with the model
        self.replaced: dict[int, torch.Tensor] = {}  # token id → the vector embedded in its place (Ovis2.5)
        self._variant_spec: str | None = None  # the variant the runner's cache was built under
        tps = getattr(self.ck.config.vision_config, "tokens_per_second", None)
        native = self.ck.family.native_variant + (f":tokens_per_second={tps}" if tps else "")
        self.native_variant = resolve_variant(native)

    def config(self) -> dict[str, Any]:
        """What the samples' results depend on, as resolved (dtype 'auto' recorded as what it loads in)."""
        return {"family": self.ck.family.name, "dtype": self.dtype,
                "random_weights": self.options["random_weights"], "max_pixels": self.ck.pixels.max_pixels,
                "pixel_limits": ("per video" if self.ck.pixels.per_video else "per frame") + " from "
                                + self.ck.pixels.source,
                "seed": self.seed, "video_layout": self.video_layout,
                **({"pixel_defaults": list(self.ck.pixels.defaulted)} if self.ck.pixels.defaulted else {})}  # fmt: skip

    def check_variants(self, variants: Sequence[RopeVariant]) -> None:
        """In the timestamped layout every frame is its own one-frame run: a variant option that
        only acts across frames (δ, tokens_per_second) would silently change nothing, so it is refused.
        A variant with other than three coordinate rows is refused too, and a per-KV-head one
        (mhrope) whose head count is not the checkpoint's."""
        kv = rotary.kv_heads(self.ck.config)
        tc = rotary.text_config(self.ck.config)
        rotating = rotary.rotating_layers(tc, self.ck.family.nope_global_layers)
        for variant in variants:
            variant.require_layer_effect(tc.num_hidden_layers, self.ck.family.name, rotating)
            heads = variant.axis_of_pair(2).shape[0] if variant.per_head else kv  # rows of a per-head allocation
            if heads != kv:
                raise NiahError(f"{variant.label} allocates {heads} KV heads but "
                                f"{self.ck.family.name}'s text model has {kv}: give {variant.name}:"
                                f"num_key_value_heads={kv},mrope_section=[t,h,w] with t + h + w ≤ {kv}")  # fmt: skip
            if variant.axes != ("t", "h", "w"):
                raise NiahError(f"{variant.label} gives {len(variant.axes)} coordinates per token "
                                f"({', '.join(variant.axes)}); transformers' {self.ck.family.name} takes three "
                                "position rows (t, h, w), so the hf backend cannot run it: use --model probe or a "
                                "tiny: model")  # fmt: skip
        if self.video_layout != "timestamped":
            return
        timestamped = Layout((TextRun(3), *(r for _ in range(3) for r in (VisionRun("f", 1, 2, 2), TextRun(2)))))
        contiguous = Layout((TextRun(3), VisionRun("v", 3, 2, 2), TextRun(2)))
        for variant in variants:
            if inert := inert_options(variant, timestamped, contiguous):
                raise NiahError(f"{variant.spec}: option {', '.join(inert)} cannot act in {self.ck.family.name}'s "
                                "timestamped video layout (every frame is its own run, at temporal index 0): "
                                "use --video-layout contiguous (one video run, as Qwen2-VL), or another "
                                "variant")  # fmt: skip

    # ------------------------------------------------------------------ planning

    def check_plan(self, dataset: Dataset, samples: Sequence[Sample]) -> None:
        """Where the video processor budgets pixels per video (Qwen3-VL), it would shrink the
        frames of the longest haystack below the size niah shows at every length: say so."""
        if not self.ck.pixels.per_video or not samples:
            return
        width, height = dataset.frame_size
        longest = max(s.cell.length for s in samples)
        ours = target_size(height, width, self.ck.pixels)
        native = target_size(height, width, self.ck.pixels, units=longest)
        if native != ours:
            message = (f"{self.ck.family.name}'s video processor would show a {longest}-frame haystack at "
                       f"{native[1]}×{native[0]} (its {self.ck.pixels.source} budgets {self.ck.pixels.max_pixels:,} "
                       f"pixels per video); niah shows every length at {ours[1]}×{ours[0]} so that only the length "
                       f"changes: add --max-pixels {native[0] * native[1]} to use the longest haystack's size at "
                       "every length")  # fmt: skip
            warnings.warn(NiahWarning(message), stacklevel=2)

    def grid(self, dataset: Dataset) -> tuple[int, int]:
        width, height = dataset.frame_size
        return tokens_per_frame(height, width, self.ck.pixels)

    def segments(self, dataset: Dataset, sample: Sample) -> list[Segment]:
        h, w = self.grid(dataset)
        question = question_text(sample.query.question, list(sample.query.options))
        return build_segments(self.ck.tokenizer, question, sample.frames(dataset), h * w, dataset.options["fps"],
                              self.video_layout == "timestamped", self.markup, self.ck.family.timed_frames)  # fmt: skip

    def estimate_tokens(self, dataset: Dataset, sample: Sample) -> int:
        return sum(s.n for s in self.segments(dataset, sample))

    def estimate_cost(self, dataset: Dataset, sample: Sample) -> float:
        """Prefill FLOPs of the sample's prompt over 2·P (`prefill_flops`): N + N²·layers·d / P, so
        long prompts weigh quadratically. Qwen2-VL-7B: attention matches the linear layers at
        N ≈ 65 K tokens."""
        tc = self.ck.config.get_text_config()
        return prefill_flops(tc, self.estimate_tokens(dataset, sample)) / (2 * linear_params(tc))

    def order(self, samples: Sequence[Sample]) -> list[Sample]:
        """Variant by variant, then in the order of the prefix trie of the frame sequences, so that
        neighbours share the longest haystack prefix (a depth-first walk of the trie)."""

        def key(s: Sample):
            events = [(i, ref.key) for i, ref in enumerate(s.query.frames) if ref.kind != "haystack"]
            return (s.variant.spec, events, s.cell.length, s.task.name, s.cell.id)

        return sorted(samples, key=key)

    def prefill_spans(self, dataset: Dataset, samples: Sequence[Sample]) -> list[tuple[int, int]]:
        """(tokens reused from the cache, prompt tokens) per sample, run in this order: what `run`
        computes, without a model (a change of variant empties the cache; so does --no-prefix-reuse)."""
        spans: list[tuple[int, int]] = []
        previous: list[Segment] = []
        variant = None
        for sample in samples:
            segments = self.segments(dataset, sample)
            same = self.reuse and sample.variant.spec == variant
            spans.append((shared_tokens(previous, segments) if same else 0, sum(s.n for s in segments)))
            previous, variant = segments, sample.variant.spec
        return spans

    # ------------------------------------------------------------------ running

    def _load(self, dataset: Dataset) -> None:
        if self.model is None:
            torch.manual_seed(self.seed)
            self.model = load_model(self.ck, **self.options)
            self.runner = PromptRunner(self.model, self.chunk_tokens, self.reuse, self.ck.family.ids_argument)
            self.indexer = IndexerProbe(self.model.model.language_model)  # what sparse indexers select
            replaced = self.ck.family.replaced_embeddings
            self.replaced = {t: v.detach() for t, v in replaced(self.model).items()} if replaced else {}  # once
        root = Path(self.cache_dir) if self.cache_dir else dataset.path / ".niah-vision-cache"
        self.vision_cache = vision.VisionCache(root / self.vision_fingerprint(dataset))

    def memory_plan(self, longest_tokens: int) -> list[str]:
        """KV cache and predicted peak of the longest prompt, with a warning when it will not fit:
        peak ≈ weights + KV cache + one chunk's activations (hidden and MLP widths, a few copies)."""
        tc = rotary.text_config(self.ck.config)
        per = BYTES[self.dtype]
        weights = count_params(self.ck) * per
        kv = kv_cache_bytes(tc, longest_tokens, self.dtype)
        chunk = min(self.chunk_tokens, longest_tokens) * (4 * tc.hidden_size + 3 * tc.intermediate_size) * per
        peak = weights + kv + chunk
        lines = [f"memory     {self.dtype}: weights {_size(weights)} + KV cache {_size(kv)} at {longest_tokens:,} "
                 f"tokens + chunk {_size(chunk)} ≈ {_size(peak)} peak (estimate)"]  # fmt: skip
        device = self.options["device"] or default_device()
        total = None if self.options["device_map"] else device_memory(device)
        if total is not None and peak > 0.9 * total:
            lines.append(f"warning    the longest prompt needs about {_size(peak)} but {device} has {_size(total)}: "
                         f"a smaller --chunk-tokens cannot shrink the {_size(kv)} KV cache; use shorter --lengths, "
                         "a smaller model, or --device-map auto over more GPUs")  # fmt: skip
        return lines

    def vision_fingerprint(self, dataset: Dataset) -> str:
        """The vision cache's folder name: checkpoint, resolved dtype, the weights' identity (random
        weights differ by seed and by the device drawn on: torch's CPU and CUDA generators differ),
        pixel settings, the bytes of the font frame times are drawn with (ERNIE-4.5-VL) and the dataset."""
        device = torch.device(self.options["device"] or default_device()).type
        weights = f"random:{self.seed}:{device}" if self.options["random_weights"] else weights_identity(self.ck.ref)
        font = sha256_file(Path(self.font)) if self.font else None
        return vision.fingerprint(self.ck.ref, self.dtype, weights, self.ck.pixels, font, dataset.manifest_hash)

    def set_prefix_reuse(self, reuse: bool) -> None:
        """Turn prefix reuse on or off, keeping the loaded model; the KV cache starts empty."""
        self.reuse = reuse
        if self.model is not None:
            self.runner = PromptRunner(self.model, self.chunk_tokens, reuse, self.ck.family.ids_argument)
            self._variant_spec = None

    def _encode_frames(self, dataset: Dataset, samples: Sequence[Sample]) -> int:
        """Encode every frame the samples need that is not cached yet (haystack decoded in order);
        returns how many frames were encoded."""
        deep = self.ck.family.deepstack
        count = 0
        for frames in self._missing_frames(dataset, samples):  # out of memory fails only the samples needing a frame
            try:
                count += vision.encode_into(self.vision_cache, self.model, frames, self.ck.pixels, deep,
                                            self.ck.family.vision)  # fmt: skip
                continue
            except OOM_ERRORS:
                pass
            free_memory()  # after the except block: the failed tensors are released
        return count

    def _missing_frames(self, dataset: Dataset, samples: Sequence[Sample]) -> list[Iterator[tuple[str, np.ndarray]]]:
        """(cache key, pixels) of every frame the samples use that is not cached yet: the haystack
        decoded in order, then the inserted images. A family that draws each frame's time into
        its pixels (ERNIE-4.5-VL) keys a frame by the index it is shown at too (`frame_key`) and gets
        it drawn at index / fps: a haystack frame is then needed at as many indices as the
        insertions before it vary, a few per frame."""
        fps, timed = dataset.options["fps"], self.ck.family.timed_frames
        uses: dict[str, tuple[FrameRef, int]] = {}
        for sample in samples:
            for i, ref in enumerate(sample.frames(dataset)):
                key = frame_key(ref, i, timed)
                if key not in self.vision_cache:
                    uses[key] = (ref, i)
        at: dict[int, list[tuple[str, int]]] = {}  # haystack frame → (key, index shown at)
        for key, (ref, i) in uses.items():
            if ref.kind == "haystack":
                at.setdefault(ref.index, []).append((key, i))

        def haystack() -> Iterator[tuple[str, np.ndarray]]:
            if not at:
                return
            for j, frame in enumerate(dataset.haystack_frames(max(at) + 1)):
                for key, i in sorted(at.get(j, ())):
                    yield key, draw_time(frame, i / fps, self.font)

        inserted = sorted((key, ref, i) for key, (ref, i) in uses.items() if ref.kind != "haystack")
        return [haystack(), ((key, draw_time(dataset.image(ref), i / fps, self.font)) for key, ref, i in inserted)]

    def _embedder(self, segments: list[Segment]):
        lm = self.model.model.language_model
        device = next(self.model.parameters()).device
        dtype = lm.embed_tokens.weight.dtype
        offsets = []
        pos = 0
        for seg in segments:
            offsets.append(pos)
            pos += seg.n
        deep = self.ck.family.deepstack
        routes = self.ck.family.routes_by_modality
        config = self.ck.config
        markers = {getattr(config, name, None) for name in ("video_start_token_id", "video_end_token_id")}
        ids_argument = self.ck.family.ids_argument
        frame_id = getattr(config, "video_token_id", None)  # a frame's tokens stand on the video pad in input_ids

        def token_ids(seg: Segment, lo: int, hi: int) -> list[int]:
            text = seg.frame is None and seg.vector is None
            return list(seg.ids[lo:hi]) if text else [frame_id] * (hi - lo)

        def token_types(seg: Segment, lo: int, hi: int) -> torch.Tensor:
            """2 for video tokens and the video's start/end markers (ERNIE's vision experts), else 0."""
            if seg.frame is not None:
                return torch.full((hi - lo,), 2, dtype=torch.long)
            return torch.tensor([2 if i in markers else 0 for i in seg.ids[lo:hi]] if seg.vector is None else [0])

        def embed(start: int, stop: int) -> tuple[torch.Tensor, dict[str, Any]]:
            parts, mask, deeps, types, prompt_ids = [], [], [], [], []
            for seg, off in zip(segments, offsets, strict=True):
                a, b = max(start, off), min(stop, off + seg.n)
                if a >= b:
                    continue
                if routes:
                    types.append(token_types(seg, a - off, b - off))
                if ids_argument:
                    prompt_ids += token_ids(seg, a - off, b - off)
                if seg.vector is not None:  # a learned vector of the model, e.g. LLaVA-OneVision's image_newline
                    parts.append(getattr(self.model.model, seg.vector)[None].to(device, dtype))
                    mask.append(torch.zeros(1, dtype=torch.bool))
                elif seg.frame is None:
                    ids = torch.tensor(seg.ids[a - off : b - off], device=device)
                    text = lm.embed_tokens(ids)
                    for token, vector in self.replaced.items():  # Ovis2.5's indicators in place of its boundary tokens
                        text[ids == token] = vector.to(device, dtype)
                    parts.append(text)
                    mask.append(torch.zeros(b - a, dtype=torch.bool))
                else:
                    if seg.frame not in self.vision_cache:
                        raise SampleFailed(f"frame {seg.frame} was not encoded (out of memory while encoding "
                                           "frames); rerun to retry")  # fmt: skip
                    parts.append(self.vision_cache.get(seg.frame)[a - off : b - off].to(device, dtype))
                    mask.append(torch.ones(b - a, dtype=torch.bool))
                    if deep:
                        deeps.append(self.vision_cache.get(seg.frame + "#deep")[:, a - off : b - off])
            embeds = torch.cat(parts)[None]
            kwargs: dict[str, Any] = {}
            if deeps:  # a deepstack model, and vision tokens in this chunk
                kwargs = {"visual_pos_masks": torch.cat(mask)[None].to(device),
                          "deepstack_visual_embeds": list(torch.cat(deeps, dim=1).to(device, dtype))}  # fmt: skip
            if routes:  # ERNIE-4.5-VL: video tokens and the video's start/end markers go to the vision experts
                kwargs["moe_mm_token_type_ids"] = torch.cat(types)[None].to(device)
            if ids_argument:  # Qwen4-Exp's per-layer n-gram embeddings read the ids themselves
                kwargs[ids_argument] = torch.tensor([prompt_ids], device=device)
            return embeds, kwargs

        return embed

    def record_attention(self, mode: str) -> None:
        """Attention at the answer comes from niah's own attention function (niah.backends.hf.attention)."""
        if needed := self.ck.family.text_attention:
            raise NiahError(f"--attention is recorded by niah's chunked sdpa attention; {self.ck.family.title} runs on "
                            f"transformers' {needed} attention ({self.ck.family.why_text_attention}), which records "
                            "nothing: drop --attention")  # fmt: skip
        if self.options["attn_implementation"] != "sdpa":
            raise NiahError(f"--attention is recorded by niah's sdpa attention; --attn-implementation "
                            f"{self.options['attn_implementation']} has none: drop --attn-implementation")  # fmt: skip
        if "sliding_attention" in attention_kinds(rotary.text_config(self.ck.config)):
            raise NiahError(f"--attention records the answer's attention over the whole prompt; {self.name}'s "
                            "sliding-window layers see only their window: drop --attention")  # fmt: skip
        self.attention = mode

    def logits(self, dataset: Dataset, sample: Sample, snapshot_at: Sequence[int] = (),
               recorder: Recorder | None = None, segments: list[Segment] | None = None
               ) -> tuple[torch.Tensor, list[Segment]]:  # fmt: skip
        """Last-position logits of the sample's prompt under its variant (frames must be encoded).
        `snapshot_at`: where later samples diverge from this one (`snapshot_points`); `recorder`:
        given the attention at the answer (`recorder_for`); `segments`: the sample's, when the
        caller has them already."""
        segments = segments or self.segments(dataset, sample)
        positions = sample.variant.position_ids(layout_of(segments, self.grid(dataset), dataset.options["fps"]))
        rotary.install(self.model, sample.variant, self.ck.family.pair_layout, self.ck.family.section_order)
        if self._variant_spec != sample.variant.spec:
            self.runner.reset()  # positions and rotation differ: nothing cached is reusable
            self._variant_spec = sample.variant.spec
        with self.indexer.watching() if self.indexer else nullcontext():
            logits = self.runner.prefill(segments, positions.to(torch.float64), self._embedder(segments), snapshot_at,
                                         recorder)  # fmt: skip
        return logits, segments

    def indexer_needle(self, dataset: Dataset, sample: Sample, segments: list[Segment]) -> dict[str, float] | None:
        """After `logits`: indexed layer → the share of the needle frames' tokens its sparse indexer
        selected for the answer position (niah.backends.hf.indexer); None for a prompt without a
        needle frame (counting's 0)."""
        token_frame, frames = token_frames([(s.n, s.frame is not None) for s in segments])
        refs = sample.frames(dataset)
        if frames != len(refs):
            raise ValueError(f"{frames} frame runs in the prompt for a sample of {len(refs)} frames")
        if not (needles := [i for i, ref in enumerate(refs) if ref.kind == "needle"]):
            return None
        return {str(layer): round(share, 6) for layer, share in self.indexer.needle_share(token_frame, needles).items()}

    @staticmethod
    def recorder_for(segments: list[Segment]) -> Recorder:
        """A recorder of a prompt's attention at the answer: each frame segment is the next frame."""
        return Recorder(*token_frames([(s.n, s.frame is not None) for s in segments]))

    def stop_ids(self) -> set[int]:
        """Tokens that end a generation: the tokenizer's end of sequence and the model's."""
        eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        ids = set(eos if isinstance(eos, list | tuple) else [eos] if eos is not None else [])
        return ids | ({self.ck.tokenizer.eos_token_id} - {None})

    def _outcomes(self, sample: Sample, first: torch.Tensor, segments: list[Segment]
                  ) -> tuple[dict[str, Outcome], dict[str, Any]]:  # fmt: skip
        """Every metric of the sample from its prompt's last logits `first` (vocab,): each option
        letter (or the open answer) scored teacher-forced in context, then a greedy generation."""
        query, tok = sample.query, self.ck.tokenizer
        labels = list(query.letters) or [query.answer]
        continuations = {label: continuation_ids(tok, segments[-1], label) for label in labels}
        scored = {label: self.runner.score(first, ids) for label, ids in continuations.items()}
        answer = query.answer_label
        matched = next((label for label in labels if scored[label].exact), "")
        outcomes = {"exact_match": Outcome(matched, scored[answer].exact)}
        scores: dict[str, Any] = {"answer_tokens": continuations[answer], "answer_greedy": scored[answer].greedy}
        if not query.is_open:
            mc = max(labels, key=lambda label: scored[label].logprob)
            outcomes["mc"] = Outcome(mc, mc == answer)
            scores["option_logprobs"] = {label: round(v.logprob, 6) for label, v in scored.items()}
        text = tok.decode(self.runner.generate(first, GENERATE_TOKENS, self.stop_ids()), skip_special_tokens=True)
        outcomes["generate"] = generated_outcome(text, query.letters, answer)
        scores["generated"] = text
        return outcomes, scores

    def run(self, samples: Sequence[Sample], dataset: Dataset) -> Iterator[SampleResult]:
        if not samples:
            return
        self._load(dataset)
        self._encode_frames(dataset, samples)
        spans = self.prefill_spans(dataset, samples) if self.runner.hybrid and self.reuse else None
        for i, sample in enumerate(samples):
            points = snapshot_points([kept for kept, _ in spans], i) if spans else ()
            start = time.perf_counter()
            before = self.runner.tokens_computed
            error = None
            segments = self.segments(dataset, sample)
            recorder = self.recorder_for(segments) if self.attention else None
            try:
                first, segments = self.logits(dataset, sample, points, recorder, segments)
                outcomes, scores = self._outcomes(sample, first, segments)
                if self.indexer and (share := self.indexer_needle(dataset, sample, segments)) is not None:
                    scores["indexer_needle"] = share
            except SampleFailed as err:
                error = str(err)
            except OOM_ERRORS:  # scoring, embedding, anything of this sample: it fails, the sweep goes on
                error = "out of memory (outside the prefill chunks); rerun to retry"
                self.runner.reset()  # the cache may hold a partial forward
            if error is not None:
                first = None
                free_memory()  # after the except block: the failed tensors are released
                yield SampleResult(sample, error=error, seconds=time.perf_counter() - start)
                continue
            scores.update(prompt_tokens=sum(s.n for s in segments),
                          prefill_tokens=self.runner.tokens_computed - before)  # fmt: skip
            yield SampleResult(sample, outcomes, scores, time.perf_counter() - start,
                               attention=recorder.result() if recorder else None)  # fmt: skip


def snapshot_points(shared: Sequence[int], i: int) -> list[int]:
    """Token counts at which prompt i must keep its recurrent states for later prompts, given
    shared[j] = tokens prompt j takes from prompt j−1's cache (run order). Prompt j > i resumes
    from prompt i's states at shared[j] when every prompt between shares at least that much (the
    prefix is then prompt i's) and prompt i computes that token (shared[j] > shared[i])."""
    points: list[int] = []
    low = None  # the shortest prefix shared along the chain from prompt i
    for j in range(i + 1, len(shared)):
        if low is not None and low <= shared[i]:
            break
        if shared[j] > shared[i] and (low is None or shared[j] <= low):
            points.append(shared[j])
        low = shared[j] if low is None else min(low, shared[j])
    return points


def make_hf_backend(ref: str, seed: int = 0, **options: Any) -> HFBackend:
    return HFBackend(ref, seed=seed, **options)
