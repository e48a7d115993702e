import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test reaches for the hub: a hub id fails at once, not after retries
# One OpenMP thread per test process (and the CLI subprocesses it starts): the tests' models are tiny,
# so two threads gain nothing unloaded (19.6 s against 19.2 s for a qwen2_vl slice), and beside another
# CPU-heavy process two threads spin-wait on each other (73.9 s against 19.3 s): the suite must stay
# green and on time on a busy machine. A test that sets its own thread count (niah train) still does.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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
