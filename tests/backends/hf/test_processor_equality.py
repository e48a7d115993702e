"""niah's patchify against transformers' own Qwen2-VL processor. Needs torchvision, which does not
load beside the CPU torch wheel: this runs on the GPU machine and skips elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from niah.backends.hf.checkpoint import PixelSettings
from niah.backends.hf.pixels import patchify

pytest.importorskip("torchvision", exc_type=ImportError)


@pytest.mark.parametrize(("height", "width"), [(252, 448), (112, 224)])
def test_pixels_equal_the_official_processor(height, width):
    from transformers import Qwen2VLImageProcessor

    official = Qwen2VLImageProcessor()
    o = official
    settings = PixelSettings(o.patch_size, o.temporal_patch_size, o.merge_size, tuple(o.image_mean),
                             tuple(o.image_std), 56 * 56, 28 * 28 * 1280)  # fmt: skip
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ref = official(images=[frame], return_tensors="pt")
    ours, grid = patchify(frame, settings)
    assert tuple(ref["image_grid_thw"][0].tolist()) == grid
    assert torch.allclose(ours, ref["pixel_values"].float(), atol=1e-5)
