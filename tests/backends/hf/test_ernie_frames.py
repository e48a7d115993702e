"""ERNIE-4.5-VL draws each frame's time into its pixels: niah draws it as transformers' own video
processor does, and encodes a frame once per index it is shown at."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from niah.backends.hf import HFBackend
from niah.backends.hf.pixels import draw_time
from niah.data.dataset import Dataset
from niah.sweep.plan import make_plan
from niah.tasks import TASKS


@pytest.fixture
def ernie_video_processing(monkeypatch):
    """transformers' ERNIE video-processing module, importable without torchvision: its two
    tensor↔PIL conversions (torchvision.transforms.functional) stand in as plain reshapes, and the
    torchvision.transforms.v2 it imports (for resizing, not used here) is an empty module."""
    from PIL import Image

    fake = types.ModuleType("torchvision.transforms.functional")
    fake.to_pil_image = lambda t: Image.fromarray(t.permute(1, 2, 0).numpy())
    fake.pil_to_tensor = lambda image: torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)
    try:  # a real torchvision (GPU box) is used as it is
        import torchvision  # noqa: F401
    except ImportError:
        for name in ("torchvision", "torchvision.transforms", "torchvision.transforms.v2"):
            package = types.ModuleType(name)
            package.__path__ = []
            monkeypatch.setitem(sys.modules, name, package)
        monkeypatch.setitem(sys.modules, "torchvision.transforms.functional", fake)
        monkeypatch.setitem(sys.modules, "torchvision.transforms.v2.functional",
                            types.ModuleType("torchvision.transforms.v2.functional"))  # fmt: skip
        sys.modules["torchvision.transforms.v2"].functional = sys.modules["torchvision.transforms.v2.functional"]
    import importlib

    for name in ("image_processing_ernie4_5_vl_moe", "video_processing_ernie4_5_vl_moe"):
        monkeypatch.delitem(sys.modules, f"transformers.models.ernie4_5_vl_moe.{name}", raising=False)
    return importlib.import_module("transformers.models.ernie4_5_vl_moe.video_processing_ernie4_5_vl_moe")


@pytest.mark.parametrize("seconds", [0.0, 1.5, 61.25, 3725.5])
def test_time_is_drawn_as_transformers_draws_it(ernie_video_processing, seconds, tiny_checkpoints):
    from types import SimpleNamespace

    cls = ernie_video_processing.Ernie4_5_VLMoeVideoProcessor
    font = str(tiny_checkpoints["ernie4_5_vl_moe"] / "Roboto-Regular.ttf")
    processor = SimpleNamespace(font=font)
    frame = np.random.default_rng(0).integers(0, 256, (252, 448, 3), dtype=np.uint8)
    label = cls._convert_timestamp(processor, seconds)
    expected = cls._render_image_with_timestamp(processor, torch.from_numpy(frame).permute(2, 0, 1), label)
    ours = draw_time(frame, seconds, font)
    assert np.array_equal(ours, expected.permute(1, 2, 0).numpy())
    assert not np.array_equal(ours, frame) and np.array_equal(ours[200:], frame[200:])  # drawn in the corner only


def test_a_frame_is_encoded_once_per_index_it_is_shown_at(tiny_checkpoints, short_dataset, tmp_path):
    """Haystack frame j sits at index j before the needle and j + 1 after it: two cache entries,
    with different embeddings (the drawn times differ); prompts key their frames the same way."""
    backend = HFBackend(str(tiny_checkpoints["ernie4_5_vl_moe"]), dtype="float32", device="cpu",
                        cache_dir=str(tmp_path))  # fmt: skip
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])
    backend._load(ds)
    backend._encode_frames(ds, plan)
    keys = {s.frame for sample in plan for s in backend.segments(ds, sample) if s.frame}
    assert all(k in backend.vision_cache for k in keys)
    shown = {k.split("@")[0] for k in keys if k.startswith("h2@")}
    assert {"h2@2", "h2@3"} <= keys and shown == {"h2"}
    assert not torch.equal(backend.vision_cache.get("h2@2"), backend.vision_cache.get("h2@3"))


def test_a_missing_font_is_one_line_exit_2(tiny_checkpoints, short_dataset, tmp_path):
    import shutil

    from click.testing import CliRunner

    from niah.cli import main

    ckpt = shutil.copytree(tiny_checkpoints["ernie4_5_vl_moe"], tmp_path / "ernie")
    (ckpt / "Roboto-Regular.ttf").unlink()
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{ckpt}", "--out", str(tmp_path / "o"),
                                    "--device", "cpu", "-q"])  # fmt: skip
    assert res.exit_code == 2 and "draws each frame's time with a font (Roboto-Regular.ttf)" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_another_font_gets_another_vision_cache(tiny_checkpoints, short_dataset, tmp_path):
    """The drawn times are in the cached embeddings: a font replaced under the same name must not
    reuse them."""
    import shutil

    ckpt = shutil.copytree(tiny_checkpoints["ernie4_5_vl_moe"], tmp_path / "ernie")
    ds = Dataset(short_dataset)
    before = HFBackend(str(ckpt), device="cpu").vision_fingerprint(ds)
    font = ckpt / "Roboto-Regular.ttf"
    font.write_bytes(font.read_bytes() + b"\0")
    assert HFBackend(str(ckpt), device="cpu").vision_fingerprint(ds) != before
