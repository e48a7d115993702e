"""Qwen3-VL frames follow its video processor config (issue 14 item 7), checked against
transformers' own Qwen3-VL video smart_resize; a haystack the native processor would shrink is
reported with the --max-pixels that matches it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.backends.hf.checkpoint import PixelSettings
from niah.backends.hf.pixels import target_size
from niah.cli import main
from niah.data.dataset import Dataset
from niah.errors import NiahError, NiahWarning

from .conftest import FAMILIES

VIDEO = "video_preprocessor_config.json"


def test_qwen3_vl_reads_its_video_processor_config(tiny_checkpoints, short_dataset):
    backend = HFBackend(str(tiny_checkpoints["qwen3_vl"]), device="cpu")
    pixels = backend.ck.pixels
    assert pixels.source == VIDEO and pixels.per_video
    assert (pixels.min_pixels, pixels.max_pixels, pixels.mean) == (4096, 25165824, (0.5, 0.5, 0.5))
    # the image processor's shortest_edge (65536 pixels) would blow a 224×112 frame up to 384×192
    assert backend.grid(Dataset(short_dataset)) == (4, 7)
    assert backend.config()["pixel_limits"] == f"per video from {VIDEO}"
    qwen2 = HFBackend(str(tiny_checkpoints["qwen2_vl"]), device="cpu")
    assert not qwen2.ck.pixels.per_video and qwen2.ck.pixels.source == "preprocessor_config.json"


QWEN3 = PixelSettings(16, 2, 2, (0.5,) * 3, (0.5,) * 3, 4096, 25165824, per_video=True, source=VIDEO)


@pytest.mark.parametrize(("height", "width"), [(112, 224), (252, 448), (720, 1280), (20, 300), (1080, 1920)])
@pytest.mark.parametrize("units", [1, 2, 7, 64, 300])
@pytest.mark.parametrize("settings", [QWEN3, PixelSettings(16, 2, 2, (0.5,) * 3, (0.5,) * 3, 200_000, 4_000_000,
                                                           per_video=True, source=VIDEO)])  # fmt: skip
def test_frame_size_equals_transformers_qwen3_vl_video_resize(height, width, units, settings):
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    frames = units * settings.temporal_patch_size  # niah's frame is one temporal unit of identical frames
    ref = smart_resize(frames, height, width, temporal_factor=2, factor=settings.factor,
                       min_pixels=settings.min_pixels, max_pixels=settings.max_pixels)  # fmt: skip
    assert target_size(height, width, settings, units) == tuple(ref)


def test_a_haystack_the_native_processor_would_shrink_is_reported(tiny_checkpoints, grid_dataset, tmp_path):
    ckpt = shutil.copytree(tiny_checkpoints["qwen3_vl"], tmp_path / "small-budget")
    config = json.loads((ckpt / VIDEO).read_text())
    config["size"]["longest_edge"] = 8 * 2 * 224 * 128  # eight 224×128 frames: the 16-frame haystacks are over
    (ckpt / VIDEO).write_text(json.dumps(config))
    args = ["run", str(grid_dataset), "--model", f"hf:{ckpt}", "--variants", "mrope-interleaved,vanilla", "--out",
            str(tmp_path / "r"), "--dry-run"]
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    h, w = smart_resize(2 * 16, 112, 224, factor=32, min_pixels=4096, max_pixels=config["size"]["longest_edge"])
    assert (h, w) != (128, 224)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    warning = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and f"16-frame haystack at {w}×{h}" in warning[0], res.output
    assert f"--max-pixels {h * w} " in warning[0]
    res = CliRunner().invoke(main, [*args, "--max-pixels", str(h * w)])
    assert res.exit_code == 0 and "warning:" not in res.output, res.output


@pytest.mark.parametrize(("family", "name"), [("qwen2_vl", "preprocessor_config.json"), ("internvl",
                                               "preprocessor_config.json"), ("glm4v", VIDEO)])  # fmt: skip
@pytest.mark.parametrize("missing", ["image_mean", "image_std"])
def test_a_processor_file_without_its_normalisation_is_refused(family, name, missing, tiny_checkpoints, tmp_path):
    """Never Qwen2-VL's CLIP mean or InternVL's ImageNet one in place of a missing one."""
    ckpt = tmp_path / family
    shutil.copytree(tiny_checkpoints[family], ckpt)
    settings = json.loads((ckpt / name).read_text())
    del settings[missing]
    (ckpt / name).write_text(json.dumps(settings))
    with pytest.raises(NiahError, match=f"{name} of '{ckpt}' gives no {missing}: niah never guesses"):
        HFBackend(str(ckpt), device="cpu")


def test_pixel_limits_a_processor_file_lacks_are_said_and_recorded_in_run_json(tiny_checkpoints, tmp_path):
    ckpt = tmp_path / "qwen2_vl"
    shutil.copytree(tiny_checkpoints["qwen2_vl"], ckpt)
    settings = json.loads((ckpt / "preprocessor_config.json").read_text())
    for key in ("max_pixels", "merge_size"):
        del settings[key]
    (ckpt / "preprocessor_config.json").write_text(json.dumps(settings))
    with pytest.warns(NiahWarning, match="lacks merge_size, max_pixels: niah takes the processor class's defaults"):
        backend = HFBackend(str(ckpt), device="cpu")
    assert backend.config()["pixel_defaults"] == ["merge_size", "max_pixels"]
    assert (backend.ck.pixels.merge_size, backend.ck.pixels.max_pixels) == (2, 28 * 28 * 1280)
    assert "pixel_defaults" not in HFBackend(str(tiny_checkpoints["qwen2_vl"]), device="cpu").config()


@pytest.mark.skipif("ovis2_5" not in FAMILIES, reason="Ovis2.5 needs transformers >= 5.25")
def test_ovis_frames_are_resized_bilinear_as_its_own_processor_does(tmp_path):
    """Ovis2.5's processor resizes bilinear where Qwen's resize bicubic: niah's patches of a 448×252
    frame (upscaled to its 448² minimum) equal transformers' Ovis2_5ImageProcessorPil's within one
    uint8 level; the bicubic filter would be up to 0.49 off."""
    import numpy as np
    from PIL import Image
    from transformers.models.ovis2_5.image_processing_pil_ovis2_5 import Ovis2_5ImageProcessorPil

    from niah.backends.hf.checkpoint import load_pixel_settings
    from niah.backends.hf.pixels import patchify
    from niah.backends.hf.tiny import PROCESSOR_CONFIGS
    from niah.model_families import MODEL_FAMILIES

    family = MODEL_FAMILIES["ovis2_5"]
    (tmp_path / VIDEO).write_text(json.dumps(PROCESSOR_CONFIGS["ovis2_5"][VIDEO]))
    settings = load_pixel_settings(str(tmp_path), family)
    assert settings.resample == "bilinear"  # the class's own filter: the file is silent
    frame = np.random.default_rng(0).integers(0, 256, (252, 448, 3), dtype=np.uint8)
    official = Ovis2_5ImageProcessorPil()(images=[Image.fromarray(frame)], return_tensors="pt")
    ours, grid = patchify(frame, settings)
    assert grid == tuple(official["image_grid_thw"][0].tolist()) == (1, 22, 38)
    assert (ours - official["pixel_values"].float()).abs().max() <= 1 / 127.5 + 1e-6
    bicubic, _ = patchify(frame, replace(settings, resample="bicubic"))
    assert (bicubic - official["pixel_values"].float()).abs().max() > 0.1
    (tmp_path / VIDEO).write_text(json.dumps({**PROCESSOR_CONFIGS["ovis2_5"][VIDEO], "resample": 4}))
    with pytest.raises(NiahError, match=r"asks for resample 4; niah resizes frames with PIL's 0 \(nearest\)"):
        load_pixel_settings(str(tmp_path), family)


@pytest.mark.parametrize("family", ["internvl", "qwen2_vl"])
def test_a_processor_files_resample_is_read_for_tiles_and_patches_alike(family, tmp_path):
    """The file's own `resample` wins over the class default on both paths (fixed tiles and
    smart-resized patches); without one, both keep their processors' bicubic."""
    from niah.backends.hf.checkpoint import load_pixel_settings
    from niah.backends.hf.tiny import PROCESSOR_CONFIGS, tiny_config
    from niah.model_families import MODEL_FAMILIES

    (name, published), = PROCESSOR_CONFIGS[family].items()
    config = tiny_config(family)
    (tmp_path / name).write_text(json.dumps(published))
    assert load_pixel_settings(str(tmp_path), MODEL_FAMILIES[family], config).resample == "bicubic"
    (tmp_path / name).write_text(json.dumps({**published, "resample": 2}))
    assert load_pixel_settings(str(tmp_path), MODEL_FAMILIES[family], config).resample == "bilinear"


def _hy_video_processor(monkeypatch):
    """transformers' HYV4VLVideoProcessor class. Its module imports torchvision's functional API at
    the top, which the pure-Python smart_resize never calls: without torchvision an empty stand-in
    takes its place for the import, and the module is dropped again after the test."""
    import importlib
    import sys
    import types

    import transformers.video_processing_utils  # noqa: F401  (transformers' own torchvision check first)

    name = "transformers.models.hy_v4_vl.video_processing_hy_v4_vl"
    try:
        import torchvision  # noqa: F401
    except ImportError:
        for stub in ("torchvision", "torchvision.transforms", "torchvision.transforms.v2"):
            monkeypatch.setitem(sys.modules, stub, types.ModuleType(stub))
        sys.modules["torchvision.transforms.v2"].functional = types.ModuleType("functional")
        monkeypatch.setitem(sys.modules, name, None)  # recorded as absent: imported under the stand-in,
        del sys.modules[name]  # then removed again after the test
    return importlib.import_module(name).HYV4VLVideoProcessor


@pytest.mark.skipif("hy_v4_vl" not in FAMILIES, reason="HY-V4-VL needs transformers >= 5.25")
@pytest.mark.parametrize("seed", range(4))
def test_hy_v4_vl_frame_size_and_tokens_equal_its_processors(seed, monkeypatch):
    """HY-V4-VL's resize (never up, floored to 32 px, a newline token a row counted in the video's
    budget, a per-frame pixel cap) equals its video processor's smart_resize over random frame
    sizes, frame counts and budgets; a frame's tokens equal its processor's count, rows × (W + 1)."""
    import random

    from transformers.models.hy_v4_vl.processing_hy_v4_vl import HYV4VLProcessor

    from niah.backends.hf.pixels import tokens_per_frame
    from niah.model_families.hy_v4_vl import PROCESSORS

    processor = _hy_video_processor(monkeypatch)
    published = PROCESSORS[VIDEO]
    rng = random.Random(seed)
    for _ in range(200):
        height, width = rng.randint(16, 4000), rng.randint(16, 4000)
        if max(height, width) / min(height, width) > 200:
            continue
        units, budget = rng.choice([1, 2, 300, 3000]), rng.choice([2**25, 2**20, 2**16])
        cap = rng.choice([2**20, 2**18])
        settings = PixelSettings(patch_size=16, temporal_patch_size=1, merge_size=2, mean=(0.5,) * 3, std=(0.5,) * 3,
                                 min_pixels=published["size"]["shortest_edge"], max_pixels=budget, per_video=True,
                                 resize="hy4", frame_max_pixels=cap, row_newline=True)  # fmt: skip
        theirs = processor.smart_resize(height, width, units, factor=32, max_pixels=budget, max_image_size=cap)
        assert target_size(height, width, settings, units) == theirs, (height, width, units, budget, cap)
        rows, cols = tokens_per_frame(height, width, settings, units)
        assert rows * cols == HYV4VLProcessor._num_frame_tokens(theirs[0] // 16, theirs[1] // 16, 2)


def test_a_read_only_frame_is_normalised_without_torchs_non_writable_warning():
    """Frames can come read-only (np.asarray of a PIL image: ERNIE's time-stamped frames); torch
    warns, once per process, when it wraps one. A fresh process, so an earlier test's warning does
    not hide it, with that warning made an error."""
    code = ("import numpy as np; from niah.backends.hf.pixels import normalised; "
            "from niah.backends.hf.checkpoint import PixelSettings; "
            "f = np.zeros((28, 28, 3), np.uint8); f.flags.writeable = False; "
            "x = normalised(f, PixelSettings(14, 2, 2, (0.5,) * 3, (0.5,) * 3, 784, 784 * 4)); "
            "assert x.shape == (3, 28, 28) and float(x.max()) == -1.0")  # fmt: skip
    res = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-600:]
