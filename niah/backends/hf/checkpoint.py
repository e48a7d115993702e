"""Loading a checkpoint by hub id or local path: config, family, tokenizer, processor settings, model.

The processor's settings are read from preprocessor_config.json (patch size, temporal patch,
merge size, mean/std, pixel limits) instead of instantiating transformers' processors, which
import torchvision (PyPI's torchvision does not load beside the CPU torch wheel).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from niah.backends.hf.attention import use_chunked_causal
from niah.errors import NiahError, unknown
from niah.model_families import Family, family_of

DTYPES = {"auto": None, "bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
ATTENTION = {
    "sdpa": "SDPA; prefill chunks use lower-right causal attention, no mask (flash kernel on CUDA)",
    "sdpa-stock": "transformers' own SDPA path (a masked kernel for chunks after the first)",
    "flash_attention_2": "the flash-attn package, if installed",
    "eager": "plain matmul attention (slow; for debugging)",
}
"""--attn-implementation choices → what each runs."""


@dataclass(frozen=True)
class PixelSettings:
    """The processor's geometry and normalisation (pixels per patch side, frames per patch, ...)."""

    patch_size: int
    temporal_patch_size: int
    merge_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    min_pixels: int
    max_pixels: int
    per_video: bool = False  # the limits bound the whole video's frames × pixels (Qwen3-VL's video processor)
    frame_cap_tokens: int | None = None  # Qwen3-VL's cap_pixels_per_frame: at most this many patches a frame
    fixed_size: tuple[int, int] | None = None  # (H, W) every frame is resized to (InternVL, LLaVA-OV); else smart
    tile_tokens: tuple[int, int] | None = None  # (H, W) LLM tokens of such a tile
    font: str | None = None  # the font file ERNIE-4.5-VL's processor draws each frame's time with (None: no drawing)
    resample: str = "bicubic"  # the processor's resize filter (Qwen and most: bicubic; Ovis2.5: bilinear)
    resize: str = "smart"  # the processor's size rule (Family.resize): "smart" or "hy4"
    frame_max_pixels: int | None = None  # "hy4": HY-V4-VL's max_image_size, at most this many pixels a frame
    row_newline: bool = False  # each merged row ends with a newline token: a frame is H rows of W + 1 tokens
    source: str = "preprocessor_config.json"  # the file they were read from
    defaulted: tuple[str, ...] = ()  # settings the file lacks, taken from the processor class's defaults (run.json)

    @property
    def factor(self) -> int:
        """Pixels per LLM token side: patch_size × merge_size (28 for Qwen2-VL, 32 for Qwen3-VL)."""
        return self.patch_size * self.merge_size


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or Path(ref).exists() or ref.count("/") > 1


def resolve(ref: str) -> str:
    """A local dir (checked to exist) or a hub id, as given after 'hf:'."""
    if not ref:
        raise NiahError("give a model after hf:, e.g. hf:Qwen/Qwen2-VL-7B-Instruct or hf:./my-checkpoint")
    if _looks_like_path(ref):
        path = Path(ref).expanduser()
        if not path.is_dir():
            raise NiahError(
                f"model path '{ref}' does not exist: give a checkpoint dir or a hub id like Qwen/Qwen2-VL-7B-Instruct"
            )
        if not (path / "config.json").is_file():
            raise NiahError(f"model path '{ref}' holds no config.json: is it a transformers checkpoint dir?")
        return str(path)
    return ref


def load_config(ref: str):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(ref)
    except Exception as err:  # a missing hub id, no network, or a malformed config.json: all one line
        lines = [x for x in str(err).splitlines() if x.strip()]
        raise NiahError(f"cannot load the config of model '{ref}': {lines[-1].strip() if lines else err}") from None


VIDEO_CONFIG = "video_preprocessor_config.json"


def _read_config(ref: str, name: str, required: bool = True) -> dict[str, Any] | None:
    from transformers.utils import cached_file

    try:
        path = cached_file(ref, name, _raise_exceptions_for_missing_entries=required)
    except OSError as err:
        raise NiahError(f"cannot read {name} of '{ref}': {str(err).splitlines()[0]}") from None
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NiahError(f"{name} of '{ref}' is not valid JSON ({err}): restore it from the model's release") from None


NORMALISATION = ("image_mean", "image_std")
"""Settings a processor file must give: a missing one is refused, never guessed (CLIP's, ImageNet's and
SigLIP's differ, and a wrong one shifts every vision token)."""


def _require_normalisation(raw: dict, source: str, ref: str) -> None:
    if missing := [k for k in NORMALISATION if k not in raw]:
        raise NiahError(f"{source} of '{ref}' gives no {' or '.join(missing)}: niah never guesses a "
                        "normalisation (CLIP's, ImageNet's and SigLIP's differ); restore the file from the model's "
                        "release")  # fmt: skip


def _read(raw: dict, key: str, fallback, defaulted: list[str]):
    """raw[key], or the processor class's default `fallback`, noting the key in `defaulted`."""
    if key in raw:
        return raw[key]
    defaulted.append(key)
    return fallback


def _frame_max_pixels(raw: dict, family: Family, defaulted: list[str]) -> int | None:
    """HY-V4-VL's per-frame pixel limit (its video processor's max_image_size, 1024² by default)."""
    if family.resize != "hy4":
        return None
    return int(_read(raw, "max_image_size", {"longest_edge": 1024 * 1024}, defaulted)["longest_edge"])


def load_pixel_settings(ref: str, family: Family, config=None) -> PixelSettings:
    """The video processor's settings: from video_preprocessor_config.json when the checkpoint
    has one (Qwen3-VL), else from preprocessor_config.json (Qwen2-VL and Qwen2.5-VL ship only
    that; their video processor takes its min/max_pixels from it). Fixed tiles (InternVL,
    LLaVA-OneVision): the tile size from the processor, checked against the model `config`."""
    raw = _read_config(ref, VIDEO_CONFIG, required=False)
    source = VIDEO_CONFIG
    if raw is None:
        raw, source = _read_config(ref, "preprocessor_config.json"), "preprocessor_config.json"
    _require_normalisation(raw, source, ref)
    size = raw.get("size") or {}
    resample = _resample(raw, family, source, ref)
    if family.vision in ("tiles", "pooled"):
        return _tile_settings(raw, size, config, source, family.vision, resample)
    per_video = source == VIDEO_CONFIG and family.video_pixels_per_video
    capped = per_video and raw.get("cap_pixels_per_frame")
    font = raw.get("font", "") if family.timed_frames and raw.get("draw_on_frames", True) else None
    defaulted: list[str] = []  # Qwen2-VL's processor defaults where the file is silent: recorded in run.json
    limits = {**{k: v for k, v in (("min_pixels", size.get("shortest_edge")), ("max_pixels", size.get("longest_edge")))
                 if v is not None}, **raw}  # fmt: skip
    return PixelSettings(
        patch_size=int(_read(raw, "patch_size", 14, defaulted)),
        temporal_patch_size=int(_read(raw, "temporal_patch_size", 2, defaulted)),
        merge_size=int(_read(raw, "merge_size", 2, defaulted)),
        mean=tuple(raw["image_mean"]),
        std=tuple(raw["image_std"]),
        min_pixels=int(_read(limits, "min_pixels", 56 * 56, defaulted)),
        max_pixels=int(_read(limits, "max_pixels", 28 * 28 * 1280, defaulted)),
        per_video=per_video,
        frame_cap_tokens=int(_read(raw, "max_video_tokens", 768, defaulted)) if capped else None,
        font=font,
        resample=resample,
        resize=family.resize,
        frame_max_pixels=_frame_max_pixels(raw, family, defaulted),
        row_newline=family.row_newline,
        source=source,
        defaulted=tuple(defaulted),
    )


def font_path(ref: str, pixels: PixelSettings) -> str | None:
    """The file of the font the processor draws each frame's time with (beside its config), or
    None where it draws nothing; NiahError when it is missing."""
    from transformers.utils import cached_file

    if pixels.font is None:
        return None
    path = cached_file(ref, pixels.font, _raise_exceptions_for_missing_entries=False) if pixels.font else None
    if path is None:
        raise NiahError(f"{pixels.source} of '{ref}' draws each frame's time with a font "
                        f"({pixels.font or 'none named'}) that is not beside it: restore the font file from the "
                        "model's release")  # fmt: skip
    return path


RESAMPLE_FILTERS = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic"}
"""PIL's resample codes, as processor files write them, that niah resizes frames with."""


def _resample(raw: dict, family: Family, source: str, ref: str) -> str:
    """The processor's resize filter: its file's `resample`, else its class's (Family.resample)."""
    code = raw.get("resample", family.resample)
    if code not in RESAMPLE_FILTERS:
        raise NiahError(f"{source} of '{ref}' asks for resample {code!r}; niah resizes frames with PIL's "
                        f"{', '.join(f'{k} ({v})' for k, v in RESAMPLE_FILTERS.items())}: give frames at the size "
                        "the processor wants, or set one of those")  # fmt: skip
    return RESAMPLE_FILTERS[code]


def _first(value) -> int:
    """A vision config's size field: an int or an [H, W] list (square in every family niah runs)."""
    return int(value[0] if isinstance(value, list | tuple) else value)


def _tile_settings(raw: dict, size: dict, config, source: str, kind: str, resample: str) -> PixelSettings:
    """Every frame one tile of size["height"] × size["width"] pixels, the vision tower's
    image_size. InternVL ("tiles"): an LLM token per (patch / downsample_ratio)²
    pixels (448 px, 14-px patches, ratio 0.5: 16 × 16 = 256).
    LLaVA-OneVision ("pooled"): SigLIP's patches pooled 2 × 2 rounding up (384 px, 14-px patches:
    27 → 14, 196 tokens)."""
    if "height" not in size or "width" not in size:
        raise NiahError(f"{source} gives no tile size (size.height, size.width): restore it from the model's release")
    vision = config.vision_config
    patch, side = _first(vision.patch_size), _first(vision.image_size)
    tile = (int(size["height"]), int(size["width"]))
    if tile != (side, side):
        raise NiahError(f"{source}'s tile {tile[1]}×{tile[0]} is not the vision tower's image_size {side}×{side}: "
                        "restore the processor config from the model's release")  # fmt: skip
    if kind == "tiles":
        merge = round(1 / config.downsample_ratio)
        tokens = side // patch // merge
    else:
        merge, tokens = 2, math.ceil(side // patch / 2)
    return PixelSettings(
        patch_size=patch, temporal_patch_size=1, merge_size=merge,
        mean=tuple(raw["image_mean"]),
        std=tuple(raw["image_std"]),
        min_pixels=tile[0] * tile[1], max_pixels=tile[0] * tile[1], fixed_size=tile, tile_tokens=(tokens, tokens),
        resample=resample, source=source,
    )  # fmt: skip


def load_tokenizer(ref: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(ref)
    except (OSError, ValueError) as err:
        raise NiahError(f"cannot load the tokenizer of '{ref}': {str(err).splitlines()[0]}") from None


@dataclass
class Checkpoint:
    ref: str
    config: Any
    family: Family
    tokenizer: Any
    pixels: PixelSettings


def check_transformers(family: Family, ref: str, installed: str | None = None) -> None:
    """NiahError where the installed transformers (`installed`: its version, for tests) is older than
    the family's min_transformers, whose model niah's native variant reproduces."""
    import re

    def release(version: str) -> tuple[int, ...]:  # "5.25.0.dev0" → (5, 25, 0)
        return tuple(int(x) for x in re.findall(r"\d+", version)[:3])

    if installed is None:
        import transformers

        installed = transformers.__version__
    if family.min_transformers and release(installed) < release(family.min_transformers):
        raise NiahError(f"{ref} is a {family.title} checkpoint, which niah needs transformers >= "
                        f"{family.min_transformers} to run ({family.why_min_transformers}; installed: {installed}): "
                        f"pip install -U 'transformers>={family.min_transformers}'")  # fmt: skip


def open_checkpoint(ref: str) -> Checkpoint:
    """Everything but the weights: cheap, so bad input fails before a run dir is written."""
    ref = resolve(ref)
    config = load_config(ref)
    family = family_of(getattr(config, "model_type", "?"), ref)
    check_transformers(family, ref)
    return Checkpoint(ref, config, family, load_tokenizer(ref), load_pixel_settings(ref, family, config))


def default_device() -> str:
    """cuda:LOCAL_RANK under torchrun (one whole model per GPU), else cuda or cpu."""
    import os

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"


def check_load_options(dtype: str, attn_implementation: str, device_map: str | None = None,
                       random_weights: bool = False, device: str | None = None) -> None:  # fmt: skip
    """Fail early (before any run dir is written) on options load_model cannot use."""
    if device is not None:
        check_device(device)
    if device_map and random_weights:
        raise NiahError("--random-weights builds the model on one device (--device); --device-map needs saved weights")
    if dtype not in DTYPES:
        raise unknown("dtype", dtype, DTYPES)
    if attn_implementation not in ATTENTION:
        raise unknown("attention implementation", attn_implementation, ATTENTION)


def check_device(device: str) -> None:
    """NiahError unless `device` names a torch device this machine has (cpu, cuda, cuda:N, mps)."""
    try:
        target = torch.device(device)
    except RuntimeError:
        raise NiahError(f"--device '{device}' is not a torch device: use cpu, cuda or cuda:N") from None
    if target.type == "cuda":
        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if have == 0:
            raise NiahError(f"--device {device} but this machine has no CUDA GPU (torch {torch.__version__}, "
                            f"CUDA build: {torch.version.cuda or 'no'}): use --device cpu")  # fmt: skip
        if target.index is not None and target.index >= have:
            raise NiahError(f"--device {device} but this machine has {have} CUDA GPU{'s' if have != 1 else ''} "
                            f"(cuda:0 to cuda:{have - 1})")  # fmt: skip
    elif target.type == "mps" and not torch.backends.mps.is_available():
        raise NiahError(f"--device {device} but this machine has no Apple GPU: use --device cpu")


def resolve_dtype(dtype: str, device: str | None = None, device_map: str | None = None) -> str:
    """The dtype a model really loads in: 'auto' is bfloat16 on a CUDA device (or spread over
    GPUs by device_map), float32 elsewhere; run.json and the vision cache record this, never 'auto'."""
    if dtype != "auto":
        return dtype
    on_cuda = torch.device(device or default_device()).type == "cuda" or (device_map and torch.cuda.is_available())
    return "bfloat16" if on_cuda else "float32"


def weights_identity(ref: str) -> str:
    """What identifies the weights of a checkpoint dir: every weight file's name, size and mtime
    (an overwritten checkpoint gets a new identity, so cached vision embeddings are not reused)."""
    folder = Path(ref)
    if not folder.is_dir():
        return ref
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".pth"))
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha256(repr(stamp).encode()).hexdigest()[:16]


def load_model(ck: Checkpoint, dtype: str = "auto", device: str | None = None, attn_implementation: str = "sdpa",
               device_map: str | None = None, random_weights: bool = False):  # fmt: skip
    """The model in eval mode on `device` (or spread by `device_map`); attention as in ATTENTION."""
    from transformers import AutoModelForImageTextToText

    check_load_options(dtype, attn_implementation, device_map, random_weights, device)
    torch_dtype = DTYPES[resolve_dtype(dtype, device, device_map)]
    load_as = "sdpa" if attn_implementation.startswith("sdpa") else attn_implementation
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "attn_implementation": load_as}
    target = device or default_device()
    try:
        if random_weights:  # drawn on the target device: 8 B parameters initialise in seconds on a GPU
            with torch.device(target):
                model = AutoModelForImageTextToText.from_config(ck.config, **kwargs)
        else:
            model = AutoModelForImageTextToText.from_pretrained(ck.ref, device_map=device_map, **kwargs)
    except (OSError, ImportError, ValueError) as err:
        raise NiahError(f"cannot load model '{ck.ref}': {str(err).splitlines()[0]}") from None
    if device_map is None:
        model.to(target)
    if attn_implementation == "sdpa":
        use_chunked_causal(model)
    return model.eval()
