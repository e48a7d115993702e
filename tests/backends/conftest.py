import pytest

from niah.data.generate import generate, resolve_config

SMALL = dict(width=112, height=56, lengths="8,16,24", depths="0,50,100", needles=2, distractor_period=4)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """A tiny demo-like dataset shared by the sweep tests: 18 cells."""
    return generate(tmp_path_factory.mktemp("data") / "ds", resolve_config("demo", **SMALL))
