"""The hf backend against the unmodified model (fp32, tiny random checkpoints), and prefix reuse
against a full recompute."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from niah.backends.hf import HFBackend
from niah.backends.hf.pixels import draw_time, normalised, patchify
from niah.data.dataset import Dataset
from niah.errors import NiahError
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

from .conftest import FAMILIES, frame_token_id, refuses_reuse


def official_logits(backend: HFBackend, dataset: Dataset, sample) -> torch.Tensor:
    """The model's own forward on the same frames: input_ids with video pads, pixel values, grid."""
    config = backend.ck.config
    frame_token = frame_token_id(config, backend.ck.family.markup)
    ids, types = [], []
    for seg in backend.segments(dataset, sample):
        text = seg.frame is None and seg.vector is None
        ids += list(seg.ids) if text else [frame_token] * seg.n
        types += [0] * seg.n if text else [2] * seg.n
    frames = [px for _, px in dataset.frames(sample.cell) if True]
    refs = sample.frames(dataset)
    by_key = {ref.key: px for ref, px in zip(dataset.sequence(sample.cell), frames, strict=True)}
    if backend.ck.family.vision == "tiles":  # InternVL: a batch of tiles, 1-D positions by default
        tiles = torch.stack([normalised(by_key[ref.key], backend.ck.pixels) for ref in refs])
        kwargs = dict(input_ids=torch.tensor([ids]), pixel_values=tiles)
    elif backend.ck.family.vision == "pooled":  # LLaVA-OneVision: one video of N frames
        video = torch.stack([normalised(by_key[ref.key], backend.ck.pixels) for ref in refs])[None]
        kwargs = dict(input_ids=torch.tensor([ids]), pixel_values_videos=video)
    elif backend.ck.family.vision == "ernie":  # each frame twice (one merged unit), its time drawn on it
        one = replace(backend.ck.pixels, temporal_patch_size=1)
        fps = dataset.options["fps"]
        patches = [patchify(draw_time(by_key[ref.key], i / fps, backend.font), one) for i, ref in enumerate(refs)]
        grid = patches[0][1]
        markers = (config.video_start_token_id, config.video_end_token_id)
        kwargs = dict(
            input_ids=torch.tensor([ids]),
            mm_token_type_ids=torch.tensor([types]),
            moe_mm_token_type_ids=torch.tensor([[2 if i in markers else t for i, t in zip(ids, types, strict=True)]]),
            pixel_values_videos=torch.cat([torch.cat([p, p]) for p, _ in patches]),
            video_grid_thw=torch.tensor([[2 * len(refs), grid[1], grid[2]]]),
        )
    else:
        patches = [patchify(by_key[ref.key], backend.ck.pixels) for ref in refs]
        if backend.ck.family.vision == "channels-last":  # Cosmos3-Edge: its own processor's patch order
            patches = [(torch.from_numpy(edge_patches(by_key[ref.key], backend.ck.pixels)), grid)
                       for ref, (_, grid) in zip(refs, patches, strict=True)]  # fmt: skip
        if backend.ck.family.vision == "raster":  # HY-V4-VL: its own processor's patch order
            patches = [(torch.from_numpy(hy_patches(by_key[ref.key], backend.ck.pixels)), grid)
                       for ref, (_, grid) in zip(refs, patches, strict=True)]  # fmt: skip
        grid = patches[0][1]
        kwargs = dict(
            input_ids=torch.tensor([ids]),
            mm_token_type_ids=torch.tensor([types]),
            pixel_values_videos=torch.cat([p for p, _ in patches]),
            video_grid_thw=torch.tensor([[len(refs), grid[1], grid[2]]]),
        )
    if backend.ck.family.name == "qwen2_5_vl":
        kwargs["second_per_grid_ts"] = torch.tensor([1.0 / dataset.options["fps"]])
    fresh = type(backend.model).from_pretrained(backend.ck.ref, dtype=torch.float32).eval()
    with torch.no_grad():
        return fresh(**kwargs).logits[0, -1].float()


def edge_patches(frame, pixels):
    """A frame's patches by transformers' own Cosmos3-Edge image processor (its PIL twin: the same
    layout as its video processor, which needs torchvision), from the frame niah normalises."""
    from transformers.models.cosmos3_edge.image_processing_pil_cosmos3_edge import Cosmos3EdgeImageProcessorPil

    out, _, _ = Cosmos3EdgeImageProcessorPil.patchify(None, normalised(frame, pixels).numpy(), pixels.patch_size,
                                                      pixels.merge_size, pixels.temporal_patch_size)  # fmt: skip
    return out


def hy_patches(frame, pixels):
    """A frame's patches by transformers' own HY-V4-VL image processor (its PIL twin: the raster order
    its video processor uses too), from the frame niah normalises."""
    from transformers.models.hy_v4_vl.image_processing_pil_hy_v4_vl import HYV4VLImageProcessorPil

    out, _, _ = HYV4VLImageProcessorPil.patchify(None, normalised(frame, pixels).numpy(), pixels.patch_size,
                                                 pixels.merge_size, pixels.temporal_patch_size)  # fmt: skip
    return out


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.fixture(autouse=True)
def exact_fp32():
    """fp32 means fp32 on a GPU too: no TF32 in matmuls or in the vision tower's patch convolution."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", FAMILIES)
def test_native_variant_reproduces_the_unmodified_model(family, device, tiny_checkpoints, short_dataset, tmp_path):
    # a fresh vision cache: this device's vision tower encodes the frames
    backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", device=device, cache_dir=str(tmp_path),
                        no_prefix_reuse=refuses_reuse(family))  # fmt: skip
    ds = Dataset(short_dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], [backend.native_variant], lengths=[3])
    backend._load(ds)
    backend._encode_frames(ds, plan)
    for sample in plan[:3]:
        ours, _ = backend.logits(ds, sample)
        ref = official_logits(backend, ds, sample)  # on the CPU
        assert torch.allclose(ours.cpu(), ref, atol=1e-5, rtol=0), (family, (ours.cpu() - ref).abs().max())


@pytest.mark.parametrize("family", FAMILIES)
def test_another_variant_changes_the_logits(family, tiny_checkpoints, short_dataset, tmp_path):
    """Positions and allocations really reach attention: the same weights answer otherwise."""
    from niah.rope import resolve_variant

    backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", device="cpu", cache_dir=str(tmp_path),
                        no_prefix_reuse=refuses_reuse(family))  # fmt: skip
    ds = Dataset(short_dataset)
    others = [v for v in ("vanilla", "m-rope+yarn:factor=4,original=8", "m-rope") if v != backend.native_variant.spec]
    variants = [backend.native_variant, *(resolve_variant(v) for v in others[:2])]
    plan = make_plan(ds, [TASKS["v-niah"]], variants, lengths=[3])
    backend._load(ds)
    backend._encode_frames(ds, plan)
    logits = {}
    for sample in plan:
        if sample.cell.id == plan[0].cell.id:
            logits[sample.variant.spec] = backend.logits(ds, sample)[0]
    native, *others = logits.values()
    # 100× float32 rounding (about 1e-7); through CohereCompass's one 6-token sliding layer that
    # rotates, vanilla moves its tiny random logits by about 2e-5
    assert len(others) == 2 and all((native - o).abs().max() > 1e-5 for o in others)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "qwen2_5_vl"])  # Qwen2-VL's code path
def test_prefix_reuse_gives_the_same_answers_as_full_recompute(family, device, tiny_checkpoints, grid_dataset,
                                                               tmp_path):  # fmt: skip
    from niah.rope import resolve_variant

    ds = Dataset(grid_dataset)
    variants = [resolve_variant(v) for v in ("m-rope", "videorope")]
    # two of the grid's lengths: prompts share prefixes within and across lengths as in the full grid
    plan = make_plan(ds, [TASKS["v-niah"], TASKS["v-niah-d"]], variants, lengths=[8, 16])
    if refuses_reuse(family):  # sliding windows: refused in one line that says what to pass
        with pytest.raises(NiahError, match="add --no-prefix-reuse"):
            list(HFBackend(str(tiny_checkpoints[family]), device=device, cache_dir=str(tmp_path)).run(plan, ds))
        return
    results = {}
    for reuse in (True, False):
        backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", device=device, no_prefix_reuse=not reuse,
                            cache_dir=str(tmp_path))  # fmt: skip
        out = list(backend.run(backend.order(plan), ds))
        results[reuse] = ({r.sample.key: r for r in out}, backend.runner.tokens_computed)
    (with_reuse, computed_reuse), (naive, computed_naive) = results[True], results[False]
    # the shared prefix was computed once (look-alikes anchored on the needle end it early: 10-20 % saved here)
    assert computed_reuse < 0.9 * computed_naive
    for reuse, computed in ((True, computed_reuse), (False, computed_naive)):  # the planner's count is the runner's
        planner = HFBackend(str(tiny_checkpoints[family]), no_prefix_reuse=not reuse)
        assert sum(total - kept for kept, total in planner.prefill_spans(ds, planner.order(plan))) == computed
    assert set(with_reuse) == set(naive) == {s.key for s in plan}
    for key, r in with_reuse.items():
        n = naive[key]
        assert r.outcomes == n.outcomes  # exact match, mc and the generated answer alike
        for letter, lp in r.scores["option_logprobs"].items():
            assert abs(lp - n.scores["option_logprobs"][letter]) <= 1e-4, (key, letter)


def test_v2pe_visual_stride_runs_on_internvl(tiny_checkpoints, short_dataset, tmp_path):
    """MM-NIAH's family with V2PE's smaller visual stride: each stride answers otherwise than the
    native 1-D positions, and the text before the first frame keeps its positions."""
    from niah.backends.hf.prompt import layout_of
    from niah.rope import resolve_variant

    backend = HFBackend(str(tiny_checkpoints["internvl"]), dtype="float32", device="cpu", cache_dir=str(tmp_path))
    ds = Dataset(short_dataset)
    variants = [backend.native_variant, *(resolve_variant(f"v2pe:visual_stride={s}") for s in (4, 8))]
    plan = make_plan(ds, [TASKS["v-niah"]], variants, lengths=[3])
    plan = [s for s in plan if s.cell.id == plan[0].cell.id]  # one cell, three variants
    backend._load(ds)
    backend._encode_frames(ds, plan)
    logits = [backend.logits(ds, s)[0] for s in plan]
    # a random tiny model moves its logits little (about 1e-4 here), far above float32 rounding (about 1e-7)
    assert len(logits) == 3 and all((logits[0] - other).abs().max() > 2e-5 for other in logits[1:])
    segments = backend.segments(ds, plan[0])
    layout = layout_of(segments, backend.grid(ds), ds.options["fps"])
    first = segments[0].n
    assert all(torch.equal(v.position_ids(layout)[:, :first], variants[0].position_ids(layout)[:, :first])
               for v in variants[1:])  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_multi_needle_tasks_run_and_prefix_reuse_equals_recompute(family, tiny_checkpoints, multi_dataset, tmp_path):
    """Ordering, counting, multi-key and distance insert several needles (and look-alikes) per cell: every family
    scores them through the task interface alone, and reusing the shared prefix changes no answer."""
    from niah.rope import resolve_variant

    ds = Dataset(multi_dataset)
    multi = ("ordering", "ordering-d", "counting", "multi-key", "distance")
    plan = make_plan(ds, [TASKS[t] for t in multi], [resolve_variant("m-rope")])
    assert {s.task.name for s in plan} == set(multi)
    assert all(sum(r.kind == "needle" for r in s.query.frames) >= 2 for s in plan if s.task.name != "counting")
    results = {}
    for reuse in (False,) if refuses_reuse(family) else (True, False):  # sliding windows: recompute twice
        backend = HFBackend(str(tiny_checkpoints[family]), dtype="float32", no_prefix_reuse=not reuse,
                            cache_dir=str(tmp_path))  # fmt: skip
        results[reuse] = {r.sample.key: r for r in backend.run(backend.order(plan), ds)}
    results.setdefault(True, {r.sample.key: r for r in HFBackend(str(tiny_checkpoints[family]), dtype="float32",
                                                                 no_prefix_reuse=True).run(plan, ds)})  # fmt: skip
    assert set(results[True]) == set(results[False]) == {s.key for s in plan}
    for key, r in results[True].items():
        n = results[False][key]
        assert not r.failed and set(r.outcomes) == {"exact_match", "mc", "generate"}
        assert r.outcomes == n.outcomes
        for letter, lp in r.scores["option_logprobs"].items():
            assert abs(lp - n.scores["option_logprobs"][letter]) <= 1e-4, (key, letter)
