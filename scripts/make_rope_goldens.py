"""Golden position ids from the Qwen team's multimodal RoPE study, run verbatim (issue 13).

    git clone https://github.com/JJJYmmm/Multimodal-RoPEs /tmp/mmropes   # the fixtures: cd413b9e
    python scripts/make_rope_goldens.py --upstream /tmp/mmropes --out tests/fixtures/rope_goldens

Imports the upstream package from --upstream (never copied into niah), lays out each niah layout
below as upstream's inputs (token ids, mm_token_type_ids, grid_thw rows) and writes, per variant,
the position ids upstream's own `pos_design` function returns, with the upstream commit, function,
options and library versions. tests/rope/test_goldens.py compares niah's registry against them.

Layout → tokens: a text run of N tokens is N text ids whose last is vision_start when a vision
run follows and whose first is vision_end when one precedes (so every vision run needs text on
both sides); a video run TxHxW is T·H·W video tokens and a grid row (T, 2H, 2W) (2×2 merge); an
image run HxW likewise with T = 1. Qwen3-VL's one-frame-per-run prompt is several one-frame video
runs with text (timestamps) between them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from niah.rope import Layout, TextRun, VisionRun  # noqa: E402

LAYOUTS = [
    "text:7",  # text only
    "text:3,image:3x3,text:2,image:2x4,text:3",  # images, odd and even grids
    "text:2,video:1x2x3,text:3,video:1x2x3,text:3,video:1x2x3,text:2",  # Qwen3-VL: one frame per run
    "text:3,image:4x6,text:2,video:1x3x5,text:2,video:1x3x5,text:2",  # image then a Qwen3-VL video
    "text:2," + ",".join(["video:1x5x3,text:4"] * 6) + ",text:1",  # six frames > max(H, W), odd grid
    # one video run of several frames behind one vision_start (Qwen2-VL's form): upstream's loop
    # counts vision_start tokens, so it places the first frame and numbers the rest as text
    "text:3,video:2x2x2,text:2",
    "text:4,video:3x4x6,text:5",
]

VARIANTS = {
    # niah spec: (upstream registry name, upstream pos_design function, its options)
    "vanilla": ("vanilla-rope", "multimodal_ropes/pos_design/vanilla.py:get_vanilla_rope_index", {}),
    "m-rope": ("mrope", "multimodal_ropes/pos_design/mrope.py:get_mrope_index", {"temporal_stride": 1.0}),
    "mrope-interleaved": ("mrope-interleave", "multimodal_ropes/pos_design/mrope_i.py:get_mrope_interleave_index",
                          {"temporal_stride": 1.0, "spatial_reset": False}),
    "videorope:delta=2": ("videorope", "multimodal_ropes/pos_design/videorope.py:get_videorope_index",
                          {"temporal_stride": 2.0}),
    "videorope:delta=1": ("videorope", "multimodal_ropes/pos_design/videorope.py:get_videorope_index",
                          {"temporal_stride": 1.0}),
    "hope:delta=1": ("hope", "multimodal_ropes/pos_design/hope.py:get_hope_index",
                     {"temporal_stride": 1.0, "temporal_stride_lst": [1.0]}),
}  # fmt: skip


def upstream_inputs(layout: Layout, config) -> dict:
    """niah layout → (input_ids, mm_token_type_ids, image_grid_thw, video_grid_thw), batch 1."""
    import torch

    runs = layout.runs
    ids: list[int] = []
    types: list[int] = []
    images, videos = [], []
    for i, run in enumerate(runs):
        if isinstance(run, TextRun):
            text = [1000 + len(ids) + k for k in range(run.length)]
            if i + 1 < len(runs) and isinstance(runs[i + 1], VisionRun):
                text[-1] = config.vision_start_token_id
            if i > 0 and isinstance(runs[i - 1], VisionRun):
                text[0] = config.vision_end_token_id
            ids += text
            types += [0] * run.length
        else:
            image = run.kind == "image"
            token, kind = (config.image_token_id, 1) if image else (config.video_token_id, 2)
            ids += [token] * run.num_tokens
            types += [kind] * run.num_tokens
            (images if image else videos).append([run.frames, 2 * run.height, 2 * run.width])
    grid = {"image_grid_thw": torch.tensor(images) if images else None,
            "video_grid_thw": torch.tensor(videos) if videos else None}  # fmt: skip
    return {"input_ids": torch.tensor([ids]), "mm_token_type_ids": torch.tensor([types]),
            "attention_mask": torch.ones(1, len(ids), dtype=torch.long), **grid}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, type=Path, help="a checkout of JJJYmmm/Multimodal-RoPEs")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "rope_goldens")
    parser.add_argument("--commit", help="the upstream commit, where --upstream is not a git checkout")
    args = parser.parse_args()
    sys.path.insert(0, str(args.upstream))
    import importlib
    from types import SimpleNamespace

    import torch
    import transformers
    from multimodal_ropes.entry import get_multimodal_rope_config
    from transformers import Qwen3VLConfig

    commit = args.commit or subprocess.run(["git", "-C", str(args.upstream), "rev-parse", "HEAD"],
                                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    if not commit:
        parser.error("--upstream is not a git checkout: give its commit with --commit")
    config = Qwen3VLConfig()
    stub = SimpleNamespace(config=config)
    args.out.mkdir(parents=True, exist_ok=True)
    for spec, (name, where, options) in VARIANTS.items():
        path, function = where.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        extra = get_multimodal_rope_config(name, dim=128, base=5_000_000, **options)
        cases = []
        for text in LAYOUTS:
            layout = Layout.parse(text)
            with torch.no_grad():
                ids, _ = getattr(module, function)(stub, extra_config=extra, **upstream_inputs(layout, config))
            one_frame = all(r.frames == 1 for r in layout.runs if isinstance(r, VisionRun))
            cases.append({"layout": text, "one_frame_per_run": one_frame, "position_ids": ids[:, 0].tolist()})
        record = {
            "niah_variant": spec,
            "upstream": {"repository": "github.com/JJJYmmm/Multimodal-RoPEs", "commit": commit, "function": where,
                         "registry_name": name, "options": options},
            "made_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                          "script": "scripts/make_rope_goldens.py"},
            "cases": cases,
        }  # fmt: skip
        target = args.out / (spec.replace(":", "_").replace("=", "").replace(",", "_") + ".json")
        target.write_text(json.dumps(record) + "\n")
        print(target)


if __name__ == "__main__":
    main()
