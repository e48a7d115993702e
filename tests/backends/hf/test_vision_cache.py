"""One vision cache shared by many workers (issue 14 item 1): two ranks started at once on a fresh
cache (what torchrun does: RANK / WORLD_SIZE, each its own shard of the plan) finish every sample
and encode each frame once; an unreadable shard is reported, removed and encoded again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from niah.backends.hf.vision import VisionCache
from niah.errors import NiahWarning


def shard_keys(cache_root):
    keys = []
    for shard in cache_root.rglob("shard-*.safetensors"):
        with safe_open(str(shard), framework="pt") as f:
            keys += list(f.keys())
    return keys


@pytest.mark.parametrize("attempt", [1, 2])
def test_two_ranks_on_a_fresh_cache_encode_each_frame_once(tiny_checkpoints, short_dataset, tmp_path, attempt):
    data = shutil.copytree(short_dataset, tmp_path / "data", ignore=shutil.ignore_patterns(".niah-vision-cache"))
    out = tmp_path / "run"
    command = [sys.executable, "-m", "niah", "run", str(data), "--model", f"hf:{tiny_checkpoints['qwen2_vl']}",
               "--variants", "vanilla,m-rope", "--out", str(out), "--device", "cpu", "-q"]  # fmt: skip
    ranks = [subprocess.Popen(command, env={**os.environ, "RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(2)]  # fmt: skip
    for rank in ranks:
        output, _ = rank.communicate(timeout=300)
        assert rank.returncode == 0, output
    keys = shard_keys(data / ".niah-vision-cache")
    assert keys and len(keys) == len(set(keys))  # every frame encoded once, by one of the two
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == len({r["key"] for r in records}) and all(r["status"] == "ok" for r in records)
    assert len(records) == 12 * 2 * 2  # 12 cells × 2 variants × 2 tasks: every sample done


def test_an_unreadable_shard_is_reported_removed_and_encoded_again(tmp_path):
    (tmp_path / "shard-1-dead.safetensors").write_bytes(b"\x00\x01not a safetensors file")
    with pytest.warns(NiahWarning, match="is unreadable"):
        cache = VisionCache(tmp_path)
    assert not (tmp_path / "shard-1-dead.safetensors").exists() and "h0" not in cache


def _resident_mib() -> dict[str, float]:
    """This process's anonymous and file-backed resident memory (Linux /proc/self/status)."""
    status = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024 for k in ("RssAnon", "RssFile")}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc to read resident memory")
def test_reads_are_memory_mapped_views_of_the_shards(tmp_path):
    """Embeddings are read as views of the shard's memory map: using 64 MiB of them fills the
    page cache (file-backed, shared by every worker), not the process's own memory."""
    import torch

    writer = VisionCache(tmp_path)
    big = torch.arange(16 * 1024 * 1024, dtype=torch.float32).view(4096, 4096)  # 64 MiB
    writer.put({"f0": big, "f1": torch.ones(3, 5, dtype=torch.bfloat16), "f1#deep": torch.zeros(2, 3, 5)})
    mapped = writer.get("f0")  # the writer, too, reads its own frames back mapped
    before = _resident_mib()
    assert float(mapped.sum()) == float(big.sum())  # reads every page
    after = _resident_mib()
    assert after["RssAnon"] - before["RssAnon"] < 16 and after["RssFile"] - before["RssFile"] > 48
    reader = VisionCache(tmp_path)  # another worker, a resumed run
    assert torch.equal(reader.get("f0"), big) and torch.equal(reader.get("f1"), torch.ones(3, 5, dtype=torch.bfloat16))
    assert reader.get("f1").dtype == torch.bfloat16 and reader.get("f1#deep").shape == (2, 3, 5)


def test_a_shard_with_data_past_its_end_is_reported(tmp_path):
    import torch

    VisionCache(tmp_path).put({"f0": torch.ones(64, 64)})
    shard = next(tmp_path.glob("shard-*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:-100])  # a disk that lost the tail
    with pytest.warns(NiahWarning, match="is unreadable"):
        cache = VisionCache(tmp_path)
    assert "f0" not in cache and not shard.exists()
