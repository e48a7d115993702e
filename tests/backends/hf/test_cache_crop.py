"""The KV cache is cut back through each layer's own crop, layers of different lengths included,
and a model with sliding-window layers (whose cache cannot be cut back) is refused (issue 14 item 5)."""

from __future__ import annotations

import json
import shutil

import torch
from click.testing import CliRunner
from transformers import DynamicCache

from niah.backends.hf.runner import _truncate
from niah.cli import main


def test_truncate_cuts_every_layer_to_the_shared_prefix_and_the_cache_grows_on():
    cache = DynamicCache()
    full = [torch.randn(1, 2, n, 4) for n in (9, 7, 9)]  # layer 1 missed the last chunk (an OOM mid-forward)
    for i, k in enumerate(full):
        cache.update(k, -k, i)
    _truncate(cache, 5)
    for i, k in enumerate(full):
        assert torch.equal(cache.layers[i].keys, k[..., :5, :]) and torch.equal(cache.layers[i].values, -k[..., :5, :])
    _truncate(cache, 8)  # longer than what is left: nothing to cut
    assert cache.get_seq_length() == 5
    more = torch.randn(1, 2, 3, 4)
    for i in range(3):
        cache.update(more, more, i)
    assert [layer.get_seq_length() for layer in cache.layers] == [8, 8, 8]


def test_a_model_with_sliding_window_layers_is_refused(tiny_checkpoints, short_dataset, tmp_path):
    ckpt = shutil.copytree(tiny_checkpoints["qwen2_vl"], tmp_path / "sliding")
    config = json.loads((ckpt / "config.json").read_text())
    config["text_config"].update(use_sliding_window=True, sliding_window=8, max_window_layers=0)
    (ckpt / "config.json").write_text(json.dumps(config))
    res = CliRunner().invoke(main, ["run", str(short_dataset), "--model", f"hf:{ckpt}", "--out", str(tmp_path / "o"),
                                    "--device", "cpu", "-q"])  # fmt: skip
    assert res.exit_code == 2 and "sliding-window attention layers" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
