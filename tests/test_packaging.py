"""pyproject lists every package, and the data folders (haystacks/, needles/) install with them."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_under_niah_is_listed_and_data_folders_are_mapped():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "niah").rglob("__init__.py")}
    assert set(tool["packages"]) == found | {"niah.haystacks", "niah.needles"}
    assert tool["package-dir"] == {"niah.haystacks": "haystacks", "niah.needles": "needles"}
    data = tool["package-data"]
    shipped = {p.relative_to(ROOT / "needles") for p in (ROOT / "needles").rglob("*") if p.is_file()}
    shipped -= {Path("__init__.py")}
    unmatched = [p for p in shipped if not any(p.match(g) and len(p.parts) == len(Path(g).parts)
                                               for g in data["niah.needles"])]  # fmt: skip
    assert not unmatched, unmatched
    assert all((ROOT / "haystacks" / p).suffix == ".json" for p in ("base.json", "demo.json"))
