import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test reaches for the hub: a hub id fails at once, not after retries

sys.path.insert(0, str(Path(__file__).parent))


SMALL = dict(width=112, height=56, lengths="8,16,24", depths="0,50,100", needles=2, distractor_period=4)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """A tiny demo-like dataset shared by the sweep, backend and script tests: 18 cells."""
    from niah.data.generate import generate, resolve_config

    return generate(tmp_path_factory.mktemp("data") / "ds", resolve_config("demo", **SMALL))


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need CUDA: skipped without it (CI has none); `pytest -m gpu` runs just them."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
