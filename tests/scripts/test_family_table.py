"""README's per-family table is the one scripts/family_table.py makes from niah's registries."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from niah.model_families import FAMILIES

ROOT = Path(__file__).parents[2]


def test_readme_holds_the_table_the_script_makes():
    spec = importlib.util.spec_from_file_location("family_table", ROOT / "scripts" / "family_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.table()
    assert table in (ROOT / "README.md").read_text()
    assert len(table.splitlines()) == 2 + len(FAMILIES)
    assert "| Qwen2-VL | `Qwen2VLForConditionalGeneration` | `m-rope` |" in table and "9×16 = 144 | 432,000 |" in table
