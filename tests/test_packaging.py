"""pyproject lists every package, and the data folders (haystacks/, needles/, models/) install with them."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_under_niah_is_listed_and_data_folders_are_mapped():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "niah").rglob("__init__.py")}
    assert set(tool["packages"]) == found | {"niah.haystacks", "niah.needles", "niah.models"}
    assert tool["package-dir"] == {"niah.haystacks": "haystacks", "niah.needles": "needles", "niah.models": "models"}
    data = tool["package-data"]
    for folder in ("needles", "models"):
        shipped = {p.relative_to(ROOT / folder) for p in (ROOT / folder).rglob("*") if p.is_file()}
        shipped -= {Path("__init__.py")}
        unmatched = [p for p in shipped if not any(p.match(g) and len(p.parts) == len(Path(g).parts)
                                                   for g in data[f"niah.{folder}"])]  # fmt: skip
        assert not unmatched, unmatched
    assert all((ROOT / "haystacks" / p).suffix == ".json" for p in ("base.json", "demo.json"))


# The torch APIs niah relies on and the release that introduced each (PyTorch release notes).
TORCH_APIS = {
    "torch.OutOfMemoryError": (2, 5),  # niah/backends/hf/runner.py
    "scaled_dot_product_attention(enable_gqa=...)": (2, 5),  # niah/backends/hf/attention.py
    "torch.nn.RMSNorm": (2, 4),  # niah/train/model.py
}


def test_the_torch_floor_covers_every_api_niah_uses():
    import re

    import torch

    assert hasattr(torch, "OutOfMemoryError") and hasattr(torch.nn, "RMSNorm")
    q, kv = torch.zeros(1, 4, 2, 8), torch.zeros(1, 2, 2, 8)  # 4 query heads over 2 KV heads
    assert torch.nn.functional.scaled_dot_product_attention(q, kv, kv, enable_gqa=True).shape == q.shape
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floor = next(tuple(map(int, re.match(r"torch>=(\d+)\.(\d+)", d).groups())) for d in deps if d.startswith("torch"))
    assert floor >= max(TORCH_APIS.values())


def test_run_help_names_every_model_kind():
    from click.testing import CliRunner

    from niah.cli import main

    text = CliRunner().invoke(main, ["run", "--help"]).output
    assert all(kind in text for kind in ("probe", "tiny:DIR", "tiny:@demo", "hf:ID_OR_PATH"))


def test_no_shipped_file_cites_a_document_users_do_not_have():
    """The design notes live beside the repository, not in it: a figure is stated with its conditions."""
    files = [*ROOT.glob("niah/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("scripts/*")]
    assert [str(p.relative_to(ROOT)) for p in files if p.is_file() and "design.md" in p.read_text()] == []


def test_run_without_a_model_says_which_to_give_in_one_line(small_dataset, tmp_path):
    """The probe was the default model: a run that named none scored a probe, not a model."""
    from click.testing import CliRunner

    from niah.cli import main

    res = CliRunner().invoke(main, ["run", str(small_dataset), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert "give --model: hf:ID_OR_PATH" in res.output and "probe for the attention probe" in res.output
    assert not (tmp_path / "r").exists()
