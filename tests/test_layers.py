"""The layers import downward only: each module imports without the layers above it (so a notebook
can use niah.data or niah.tasks alone), and no import anywhere in a module, lazy ones inside
functions included, names a higher layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ("niah.errors", "niah.files", "niah.versions", "niah.model_families", "niah.stats", "niah.answer_attention"),
    ("niah.rope", "niah.data"),
    ("niah.tasks",),
    ("niah.train",),
    ("niah.backends",),
    ("niah.sweep", "niah.export"),
    ("niah.plot",),
    ("niah.demo", "niah.cli", "niah.__main__"),
]
"""Lowest first: a module may import its own layer and those before it."""


def layer_of(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) for n in names if module == n or module.startswith(n + "."))


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / "niah").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name != "niah":
            out[name] = path
    return out


def test_every_module_has_a_layer():
    assert [m for m in modules() if not any(m == n or m.startswith(n + ".") for layer in LAYERS for n in layer)] == []


def test_no_import_names_a_higher_layer():
    upward = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                targets = [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            upward += [f"{name} imports {t}" for t in targets
                       if t.startswith("niah.") and layer_of(t) > layer_of(name)]  # fmt: skip
    assert upward == []


BLOCKER = """
import importlib, importlib.abc, sys
blocked = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"{{name}} is a higher layer")
sys.meta_path.insert(0, Block())
for module in {modules!r}:
    importlib.import_module(module)
"""


@pytest.mark.parametrize("index", range(len(LAYERS) - 1), ids=[" ".join(layer) for layer in LAYERS[:-1]])
def test_a_layer_imports_without_the_layers_above(index):
    mine = [m for m in modules() if layer_of(m) == index and not m.endswith("__main__")]
    blocked = [n for layer in LAYERS[index + 1 :] for n in layer]
    code = BLOCKER.format(blocked=blocked, modules=mine)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
