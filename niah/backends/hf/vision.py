"""Vision once: each unique frame is encoded by the vision tower once per (model, dataset) and
cached on disk as safetensors shards, read back memory-mapped (safetensors' torch reader maps the
file: a frame's embeddings are read from disk when first used and live in the page cache, shared
by every worker on the machine, not copied per process).

Many workers (torchrun ranks, `--gpus N`) share one cache: each writes shards under a name of its
own (pid and a random part), so no two writers ever touch one file, and a batch is encoded under
an exclusive lock (flock on `encode.lock`, released by the OS if its holder dies) after looking
again at what the others have written: every frame is encoded once for the whole run, whoever
needs it first. A shard that cannot be read (torn by a disk failure, not by a kill: writes are
atomic) is reported, removed and its frames encoded again.

The Qwen and GLM vision towers attend within each temporal unit only (cu_seqlens per unit),
InternVL's within each tile and LLaVA-OneVision's SigLIP within each frame, so encoding frames in
batches gives the same embeddings as encoding the video at once.

A cache entry of frame key k holds "k" → (tokens, hidden) and, for deepstack models,
"k#deep" → (layers, tokens, hidden). The cache dir is keyed by a fingerprint of the model, the
dtype, the processor settings and the dataset's manifest hash, so nothing stale is ever read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from niah.backends.hf.checkpoint import PixelSettings
from niah.backends.hf.pixels import normalised, patchify, patchify_channels_last, patchify_raster
from niah.errors import NiahWarning
from niah.files import atomic_replace

ENCODE_BATCH = 32  # frames per vision-tower call


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


class VisionCache:
    """Frame key → embeddings, in memory and in safetensors shards under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, Path] = {}
        self._memory: dict[str, torch.Tensor] = {}
        self._seen: set[Path] = set()
        self.refresh()

    def refresh(self) -> None:
        """Index shards written since the last look (by this process or another)."""
        for shard in sorted(self.root.glob("shard-*.safetensors")):
            if shard in self._seen:
                continue
            try:
                with safe_open(str(shard), framework="pt") as f:
                    names = list(f.keys())
            except Exception as err:  # safetensors raises its own types for a bad header
                warnings.warn(NiahWarning(f"vision cache shard '{shard}' is unreadable ({str(err)[:80]}): removed, "
                                          "its frames are encoded again"), stacklevel=2)  # fmt: skip
                shard.unlink(missing_ok=True)
                continue
            self._seen.add(shard)
            for name in names:
                self._index.setdefault(name, shard)

    def __contains__(self, key: str) -> bool:
        return key in self._memory or key in self._index

    def get(self, key: str) -> torch.Tensor:
        """The embeddings of frame `key`, a view of its shard's memory map."""
        if key not in self._memory:
            with safe_open(str(self._index[key]), framework="pt") as f:
                self._memory[key] = f.get_tensor(key)
        return self._memory[key]

    def put(self, tensors: dict[str, torch.Tensor]) -> None:
        """Write one new shard (atomically, under a name no other writer uses); its frames are read
        back mapped like any other shard's, so the writer keeps no copy of its own."""
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        path = self.root / f"shard-{os.getpid()}-{secrets.token_hex(4)}.safetensors"
        atomic_replace(path, lambda tmp: save_file(tensors, str(tmp)))
        self._seen.add(path)
        for k in tensors:
            self._index[k] = path


def _encode_patches(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool
                    ) -> list[dict[str, torch.Tensor]]:  # fmt: skip
    """Qwen-VL / GLM-4.xV towers: patches of every frame in one sequence, a (1, h, w) grid each."""
    patches, grids = zip(*(patchify(f, settings) for f in frames), strict=True)
    visual = model.model.visual
    dtype = next(visual.parameters()).dtype
    device = next(visual.parameters()).device
    out = visual(torch.cat(patches).to(device, dtype), grid_thw=torch.tensor(grids, device=device))
    sizes = [g[1] * g[2] // settings.merge_size**2 for g in grids]
    embeds = out.pooler_output.split(sizes)
    deep = [d.split(sizes) for d in out.deepstack_features] if deepstack else None
    return [{"embeds": e, **({"deep": torch.stack([d[i] for d in deep])} if deep else {})}
            for i, e in enumerate(embeds)]  # fmt: skip


def _encode_tiles(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool
                  ) -> list[dict[str, torch.Tensor]]:  # fmt: skip
    """InternVL: a batch of tiles (N, 3, H, W) through the model's own get_image_features (vision
    tower, pixel shuffle, projector), with the config's feature layer and selection."""
    config = model.config
    tower = model.model.vision_tower
    pixels = torch.stack([normalised(f, settings) for f in frames])
    param = next(tower.parameters())
    out = model.model.get_image_features(
        pixel_values=pixels.to(param.device, param.dtype),
        vision_feature_layer=config.vision_feature_layer,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
    )
    return [{"embeds": e} for e in out.pooler_output]


def _encode_pooled(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool
                   ) -> list[dict[str, torch.Tensor]]:  # fmt: skip
    """LLaVA-OneVision: the frames as one video (1, N, 3, H, W) through the model's own
    get_video_features (SigLIP, projector, 2 × 2 bilinear pooling); the image_newline that
    transformers ≥ 5.2x appends after the last frame (5.17 appends it in forward) is the prompt's own
    segment (Segment.vector), so only the frames' N × tile tokens are kept."""
    config = model.config
    param = next(model.model.vision_tower.parameters())
    pixels = torch.stack([normalised(f, settings) for f in frames])[None]
    out = model.model.get_video_features(  # positional: `pixel_values` up to transformers 5.2x, then renamed
        pixels.to(param.device, param.dtype),
        vision_feature_layer=config.vision_feature_layer,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
    )
    per_frame = settings.tile_tokens[0] * settings.tile_tokens[1]
    return [{"embeds": e} for e in out.pooler_output[0, : per_frame * len(frames)].chunk(len(frames))]


def _encode_merged(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool
                   ) -> list[dict[str, torch.Tensor]]:  # fmt: skip
    """ERNIE-4.5-VL: each frame (its time already drawn) as a video of two copies, grid (2, h, w),
    through the model's own get_video_features (vision tower per frame, then the resampler that
    merges two frames into one set of tokens)."""
    one = replace(settings, temporal_patch_size=1)
    patches, grids = zip(*(patchify(f, one) for f in frames), strict=True)
    param = next(model.model.vision_tower.parameters())
    pixels = torch.cat([torch.cat([p, p]) for p in patches]).to(param.device, param.dtype)
    grid = torch.tensor([[2, g[1], g[2]] for g in grids], device=param.device)
    out = model.model.get_video_features(pixel_values_videos=pixels, video_grid_thw=grid)
    return [{"embeds": e} for e in out.pooler_output]


def _encode_video_features(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool,
                           order=patchify, tower: str = "vision_tower") -> list[dict[str, torch.Tensor]]:  # fmt: skip
    """Ovis2.5, LFM3-VL, HY-V4-VL, Cosmos3-Edge: every frame's patches (in `order`), a (1, h, w)
    grid each, through the model's own get_video_features (the vision tower `model.model.<tower>`,
    then Ovis's visual tokenizer and embedding table, LFM3-VL's or Cosmos3-Edge's projector, or
    HY-V4-VL's merger, which ends each merged row with its newline vector), one video per frame so
    its output splits by frame."""
    patches, grids = zip(*(order(f, settings) for f in frames), strict=True)
    param = next(getattr(model.model, tower).parameters())
    out = model.model.get_video_features(pixel_values_videos=torch.cat(patches).to(param.device, param.dtype),
                                         video_grid_thw=torch.tensor(grids, device=param.device))  # fmt: skip
    return [{"embeds": e} for e in out.pooler_output]


ENCODERS = {"patches": _encode_patches, "tiles": _encode_tiles, "pooled": _encode_pooled, "ernie": _encode_merged,
            "channels-last": partial(_encode_video_features, order=patchify_channels_last, tower="visual"),
            "video-features": _encode_video_features, "raster": partial(_encode_video_features, order=patchify_raster)}
"""Family.vision → encode(model, frames, settings, deepstack) → per frame {"embeds": (tokens,
hidden), "deep": (layers, tokens, hidden) for deepstack towers}."""


@torch.no_grad()
def encode(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool, kind: str = "patches"
           ) -> list[dict[str, torch.Tensor]]:  # fmt: skip
    """Embeddings of each frame by the family's encoder (ENCODERS[kind])."""
    return ENCODERS[kind](model, frames, settings, deepstack)


def encode_into(cache: VisionCache, model, frames: Iterable[tuple[str, np.ndarray]], settings: PixelSettings,
                deepstack: bool, kind: str = "patches") -> int:  # fmt: skip
    """Encode (key, frame) pairs in batches of ENCODE_BATCH into the cache; returns the count.

    `frames` may be a lazy generator (e.g. decoding the haystack in order), so at most one batch
    of pixels is held in memory."""
    count = 0
    batch: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        nonlocal count
        with open(cache.root / "encode.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time; the others then find its frames
            cache.refresh()
            batch[:] = [(k, f) for k, f in batch if k not in cache]
            if batch:
                write(encode(model, [f for _, f in batch], settings, deepstack, kind))
                count += len(batch)
        batch.clear()

    def write(results: list[dict[str, torch.Tensor]]) -> None:
        tensors: dict[str, torch.Tensor] = {}
        for (key, _), r in zip(batch, results, strict=True):
            tensors[key] = r["embeds"]
            if "deep" in r:
                tensors[key + "#deep"] = r["deep"]
        cache.put(tensors)

    for key, frame in frames:
        if key in cache:
            continue
        batch.append((key, frame))
        if len(batch) == ENCODE_BATCH:
            flush()
    if batch:
        flush()
    return count
