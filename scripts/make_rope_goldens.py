"""Golden position ids and rotary tables from the authors' own code, run verbatim (issue 13).

    git clone https://github.com/JJJYmmm/Multimodal-RoPEs /tmp/mmropes   # the fixtures: cd413b9e
    git clone https://github.com/johncaged/VRoPE /tmp/vrope               # the fixtures: 6a7adbc8
    python scripts/make_rope_goldens.py --upstream /tmp/mmropes --vrope /tmp/vrope \
        --out tests/fixtures/rope_goldens

Imports the upstream package from --upstream (never copied into niah), lays out each niah layout
below as upstream's inputs (token ids, mm_token_type_ids, grid_thw rows) and writes, per variant,
the position ids upstream's own `pos_design` function returns, with the upstream commit, function,
options and library versions, and for one short layout (TABLE_LAYOUT) the cos and sin upstream's
own rotary embedding class returns for those positions (head_dim 128, θ 5e6; the first half of
the dims, the second repeats it), saved beside as NAME.tables.npz. VRoPE (johncaged/VRoPE, no
registry) is run through its `VRoPE` class with one data shape per run; its per-pair positions
(L, 64) are kept for TABLE_LAYOUT and its four distinct coordinate columns for every layout.
tests/rope/test_goldens.py compares niah's registry against them.

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
TABLE_LAYOUT = "text:3,image:3x4,text:2,video:1x2x3,text:2,video:1x2x3,text:2"

PINNED = "tests/test_rope_golden_hf4571.py:74-128"

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
    # the new variants at upstream's pinned test configuration (PINNED), then other options
    "mhrope": ("mhrope", "multimodal_ropes/pos_design/mrope_i.py:get_mrope_interleave_index",
               {"num_key_value_heads": 8, "mrope_section": [2, 3, 3], "temporal_stride": 1, "spatial_reset": True}),
    "mhrope:num_key_value_heads=4,mrope_section=[1,1,1],spatial_reset=false": (
        "mhrope", "multimodal_ropes/pos_design/mrope_i.py:get_mrope_interleave_index",
        {"num_key_value_heads": 4, "mrope_section": [1, 1, 1], "temporal_stride": 1, "spatial_reset": False}),
    "circlerope": ("circlerope", "multimodal_ropes/pos_design/circlerope.py:get_circlerope_index",
                   {"mrope_section": [16, 24, 24], "temporal_stride": 1.0, "move_to_origin": True, "dff_rate": True,
                    "method": "circle", "radius": 10, "alpha": 0.5}),
    "circlerope:dff_rate=0,radius=4,alpha=0.25": (
        "circlerope", "multimodal_ropes/pos_design/circlerope.py:get_circlerope_index",
        {"mrope_section": [16, 24, 24], "temporal_stride": 1.0, "move_to_origin": True, "dff_rate": 0,
         "method": "circle", "radius": 4, "alpha": 0.25}),
    "circlerope:dff_rate=0.5,move_to_origin=false,move_to_positive=true": (
        "circlerope", "multimodal_ropes/pos_design/circlerope.py:get_circlerope_index",
        {"mrope_section": [16, 24, 24], "temporal_stride": 1.0, "move_to_origin": False, "move_to_positive": True,
         "dff_rate": 0.5, "method": "circle", "radius": 10, "alpha": 0.5}),
    "v2pe": ("v2pe", "multimodal_ropes/pos_design/v2pe.py:get_v2pe_index", {"visual_stride": 16.0}),
    "v2pe:visual_stride=2.5": ("v2pe", "multimodal_ropes/pos_design/v2pe.py:get_v2pe_index", {"visual_stride": 2.5}),
    "v2pe:visual_stride=0.75": ("v2pe", "multimodal_ropes/pos_design/v2pe.py:get_v2pe_index", {"visual_stride": 0.75}),
    "ilrope": ("ilrope", "multimodal_ropes/pos_design/ilrope.py:get_ilrope_index",
               {"mrope_section": [24, 20, 20], "temporal_stride": 1.0, "spatial_reset": True}),
    "omnirope": ("omnirope", "multimodal_ropes/pos_design/omnirope.py:get_omnirope_index",
                 {"mrope_section": [16, 24, 24], "temporal_stride": 1.0}),
    "mmrope": ("mmrope", "multimodal_ropes/pos_design/mmrope.py:get_mmrope_index",
               {"mrope_section": [16, 24, 24], "temporal_stride": 1.0, "position_scale": (4.0, 8.0, 8.0)}),
    "mmrope:position_scale=[0.5,1.5,2.5]": ("mmrope", "multimodal_ropes/pos_design/mmrope.py:get_mmrope_index",
                                            {"temporal_stride": 1.0, "position_scale": (0.5, 1.5, 2.5)}),
    "grape": ("grape", "multimodal_ropes/pos_design/mrope.py:get_mrope_index", {}),
    "grape:frequency_allocation=interleaved,log_freq_scale=2": (
        "grape", "multimodal_ropes/pos_design/mrope.py:get_mrope_index",
        {"frequency_allocation": "interleaved", "log_freq_scale": 2.0}),
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


def upstream_tables(embedding_class, position_ids) -> dict:
    """cos, sin (first half of the dims) of upstream's rotary class for position ids (3, 1, L)."""
    import torch
    from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLTextConfig

    text_config = Qwen3VLTextConfig()  # head_dim 128; θ as upstream's pinned test sets it
    if getattr(text_config, "rope_scaling", None) is None:
        text_config.rope_scaling = {}
    text_config.rope_scaling.update(rope_type="default", rope_theta=5_000_000.0)
    x = torch.zeros((1, 1, text_config.head_dim), dtype=torch.float32)
    with torch.no_grad():
        cos, sin = embedding_class(text_config)(x, position_ids)
    half = cos.shape[-1] // 2
    return {"cos": cos[0, ..., :half].numpy(), "sin": sin[0, ..., :half].numpy()}


def vrope_positions(vrope_module, layout: Layout):
    """Per-pair positions (L, 64) of johncaged/VRoPE's `VRoPE` for a niah layout (head_dim 128)."""
    rope = vrope_module.VRoPE(half_head_dim=64, half_time_dim=16)  # half_time_dim is forced to 0 upstream
    for run in layout.runs:
        if isinstance(run, TextRun):
            rope.add_shape(vrope_module.VRoPETextShape(run.length))
        elif run.kind == "image":
            rope.add_shape(vrope_module.VRoPEImageShape(run.height, run.width))
        else:
            rope.add_shape(vrope_module.VRoPEVideoShape(run.frames, run.height, run.width))
    return rope()


def git_commit(path: Path, given: str | None, parser: argparse.ArgumentParser) -> str:
    commit = given or subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"],
                                     capture_output=True, text=True).stdout.strip()  # fmt: skip
    if not commit:
        parser.error(f"{path} is not a git checkout: give its commit")
    return commit


def write(out: Path, spec: str, record: dict, tables: dict) -> None:
    import numpy as np

    stem = spec.replace(":", "_").replace("=", "").replace(",", "_").replace("[", "").replace("]", "")
    (out / f"{stem}.json").write_text(json.dumps(record) + "\n")
    np.savez_compressed(out / f"{stem}.tables.npz", **tables)
    print(out / f"{stem}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, type=Path, help="a checkout of JJJYmmm/Multimodal-RoPEs")
    parser.add_argument("--vrope", required=True, type=Path, help="a checkout of johncaged/VRoPE")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "rope_goldens")
    parser.add_argument("--commit", help="the Multimodal-RoPEs commit, where --upstream is not a git checkout")
    parser.add_argument("--vrope-commit", help="the VRoPE commit, where --vrope is not a git checkout")
    args = parser.parse_args()
    sys.path.insert(0, str(args.upstream))
    sys.path.insert(0, str(args.vrope))
    import importlib
    from types import SimpleNamespace

    import torch
    import transformers
    from multimodal_ropes.entry import MAPPINGS_NAME_TO_POS_DESIGN, get_multimodal_rope
    from transformers import Qwen3VLConfig

    commit = git_commit(args.upstream, args.commit, parser)
    made_with = {"torch": torch.__version__, "transformers": transformers.__version__,
                 "script": "scripts/make_rope_goldens.py"}  # fmt: skip
    config = Qwen3VLConfig()
    stub = SimpleNamespace(config=config)
    args.out.mkdir(parents=True, exist_ok=True)
    for spec, (name, where, options) in VARIANTS.items():
        path, function = where.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert MAPPINGS_NAME_TO_POS_DESIGN[name] is getattr(module, function), where  # the function named is run
        index_function, embedding_class = get_multimodal_rope(name, dim=128, base=5_000_000, **options)
        cases = []
        for text in LAYOUTS + [TABLE_LAYOUT]:
            layout = Layout.parse(text)
            with torch.no_grad():
                ids, _ = index_function(stub, **upstream_inputs(layout, config))
            one_frame = all(r.frames == 1 for r in layout.runs if isinstance(r, VisionRun))
            cases.append({"layout": text, "every_frame_placed": one_frame, "position_ids": ids[:, 0].tolist(),
                          "dtype": str(ids.dtype).removeprefix("torch.")})
            if text == TABLE_LAYOUT:
                tables = upstream_tables(embedding_class, ids)
        record = {
            "niah_variant": spec,
            "upstream": {"repository": "github.com/JJJYmmm/Multimodal-RoPEs", "commit": commit, "function": where,
                         "registry_name": name, "options": options, "pinned_test": PINNED},
            "made_with": made_with,
            "table_layout": TABLE_LAYOUT,
            "cases": cases,
        }  # fmt: skip
        write(args.out, spec, record, tables)

    vrope_module = importlib.import_module("vrope")
    cases = []
    for text in LAYOUTS + [TABLE_LAYOUT]:
        per_pair = vrope_positions(vrope_module, Layout.parse(text))  # (L, 64)
        assert all(torch.equal(per_pair[:, i], per_pair[:, i % 4]) for i in range(per_pair.shape[1]))
        cases.append({"layout": text, "every_frame_placed": True, "position_ids": per_pair[:, :4].T.tolist(),
                      "dtype": str(per_pair.dtype).removeprefix("torch.")})
        if text == TABLE_LAYOUT:
            tables = {"pair_positions": per_pair.numpy()}
    record = {
        "niah_variant": "vrope",
        "upstream": {"repository": "github.com/johncaged/VRoPE", "commit": git_commit(args.vrope, args.vrope_commit,
                     parser), "function": "vrope.py:VRoPE", "options": {"half_head_dim": 64}},
        "made_with": made_with,
        "table_layout": TABLE_LAYOUT,
        "cases": cases,
    }  # fmt: skip
    write(args.out, "vrope", record, tables)


if __name__ == "__main__":
    main()
