"""Vision once: each unique frame is encoded by the vision tower once per (model, dataset) and
cached on disk as safetensors shards, read back memory-mapped.

The Qwen vision towers attend within each temporal unit only (cu_seqlens per unit), so encoding
frames one unit at a time in batches gives the same embeddings as encoding the video at once.

A cache entry of frame key k holds "k" → (tokens, hidden) and, for deepstack models,
"k#deep" → (layers, tokens, hidden). The cache dir is keyed by a fingerprint of the model, the
dtype, the processor settings and the dataset's manifest hash, so nothing stale is ever read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from niah.backends.hf.checkpoint import PixelSettings
from niah.backends.hf.pixels import patchify
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
        for shard in sorted(self.root.glob("shard-*.safetensors")):
            try:
                with safe_open(str(shard), framework="pt") as f:
                    for name in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                        self._index[name] = shard
            except Exception:  # a shard torn by a kill: ignore it, its frames are encoded again
                continue
        self._shards = len(list(self.root.glob("shard-*.safetensors")))

    def __contains__(self, key: str) -> bool:
        return key in self._memory or key in self._index

    def get(self, key: str) -> torch.Tensor:
        if key not in self._memory:
            with safe_open(str(self._index[key]), framework="pt") as f:
                self._memory[key] = f.get_tensor(key)
        return self._memory[key]

    def put(self, tensors: dict[str, torch.Tensor]) -> None:
        """Write one new shard (atomically) and keep the tensors in memory."""
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        path = self.root / f"shard-{self._shards:05d}.safetensors"
        atomic_replace(path, lambda tmp: save_file(tensors, str(tmp)))
        self._shards += 1
        for k in tensors:
            self._index[k] = path
        self._memory.update(tensors)


@torch.no_grad()
def encode(model, frames: list[np.ndarray], settings: PixelSettings, deepstack: bool) -> list[dict[str, torch.Tensor]]:
    """Embeddings of each frame: {"embeds": (tokens, hidden), "deep": (layers, tokens, hidden)?}."""
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


def encode_into(cache: VisionCache, model, frames: Iterable[tuple[str, np.ndarray]], settings: PixelSettings,
                deepstack: bool) -> int:  # fmt: skip
    """Encode (key, frame) pairs in batches of ENCODE_BATCH into the cache; returns the count.

    `frames` may be a lazy generator (e.g. decoding the haystack in order), so at most one batch
    of pixels is held in memory."""
    count = 0
    batch: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        results = encode(model, [f for _, f in batch], settings, deepstack)
        tensors: dict[str, torch.Tensor] = {}
        for (key, _), r in zip(batch, results, strict=True):
            tensors[key] = r["embeds"]
            if "deep" in r:
                tensors[key + "#deep"] = r["deep"]
        cache.put(tensors)
        batch.clear()

    for key, frame in frames:
        if key in cache:
            continue
        batch.append((key, frame))
        count += 1
        if len(batch) == ENCODE_BATCH:
            flush()
    if batch:
        flush()
    return count
