"""Benchmark the transformers backend: prefix reuse vs naive prefill, and (on a GPU) prefill speed.

CPU (default): a tiny random Qwen2-VL (niah.backends.hf.tiny) on the longva grid shape scaled
down 10× in length (20–300 frames step 20, depths 0–100 step 20, 5 needles, 112×56 frames =
8 tokens per frame), m-rope, both tasks. Prefill tokens and wall time with and without prefix
reuse, side by side in one run, and whether the answers are the same.

    python scripts/bench_hf.py [--workdir DIR]

GPU (--gpu): Qwen2-VL-7B-Instruct's architecture with random bf16 weights (`--random-weights`:
the same compute as the real weights), loaded through HFBackend like a user's checkpoint. Stages
(--stages, default all; each adds its numbers to --json so later calls can build on them):

  peak      the bf16 matmul peak of this GPU (8192³ matmuls), TFLOP/s
  prefill   one prompt of N tokens (--tokens) prefilled in 8192-token chunks through the runner:
            seconds, tokens/s, TFLOP/s, % of peak and peak memory, for niah's attention (sdpa:
            lower-right causal, no mask) and, up to --stock-max tokens, transformers' own masked
            path (sdpa-stock). FLOPs of a causal prefill of N tokens: 2·P·N + 2·n_layers·N²·d
            (niah.backends.hf.backend.prefill_flops; P: the decoder layers' weight matrices,
            6.53 B; d: 28 heads × 128 = 3584; QKᵀ and AV each N²/2·d multiply-adds per layer)
  grid      a slice of the longva grid (448×252 frames, 144 tokens per frame; --grid-lengths,
            --grid-depths, the first needle, v-niah, m-rope) run end to end naive and with reuse: wall
            time, prefill tokens, same answers; vision tower frames/s
  estimate  hours of the full longva grid (900 samples per variant: 15 lengths × 6 depths ×
            5 needles × 2 tasks) naive vs with reuse, from the plan's prefill spans (k cached,
            N total per sample) and a cost model fitted to the prefill stage:
            seconds(k → N) = a·(N − k) + b·(N² − k²)

    python scripts/bench_hf.py --gpu
    python scripts/bench_hf.py --gpu --stages peak,prefill      # then, on the same machine:
    python scripts/bench_hf.py --gpu --stages grid,estimate
    python scripts/bench_hf.py --gpu --smoke     # the GPU stages at toy sizes on the CPU (a test runs this)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from niah.backends.hf import HFBackend
from niah.backends.hf.backend import linear_params, prefill_flops
from niah.backends.hf.prompt import Segment
from niah.backends.hf.runner import PromptRunner
from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS, dataset_tasks

STAGES = ("peak", "prefill", "grid", "estimate")


@dataclass(frozen=True)
class Scale:
    """Sizes of one GPU-mode run: the real one, or a toy one that runs on the CPU."""

    name: str  # "7b" (Qwen2-VL-7B architecture, CUDA) or "tiny" (niah.backends.hf.tiny, CPU)
    device: str
    dtype: str
    matmul: int  # matmul side for the peak
    tokens: str  # prompt lengths of the prefill stage
    stock_max: int  # transformers' masked path only up to here (it is slow and memory-hungry)
    chunk: int  # prefill chunk, tokens
    dataset: dict  # resolve_config overrides of the longva dataset
    grid_lengths: str
    grid_depths: str

    def model_config(self):
        from niah.backends.hf.tiny import qwen2_vl_7b_config, tiny_config

        return qwen2_vl_7b_config() if self.name == "7b" else tiny_config("qwen2_vl")


GPU = Scale(
    name="7b", device="cuda", dtype="bfloat16", matmul=8192, tokens="16384,65536,147456,294912,432000",
    stock_max=147456, chunk=8192, dataset={}, grid_lengths="200:1000:200", grid_depths="0:100:40",
)  # fmt: skip
SMOKE = Scale(
    name="tiny", device="cpu", dtype="float32", matmul=256, tokens="256,512,1024", stock_max=512, chunk=128,
    dataset=dict(lengths="20:100:20", width=112, height=56, distractor_period=20), grid_lengths="20:60:20",
    grid_depths="0:100:40",
)  # fmt: skip


# ---------------------------------------------------------------------- shared


def run_plan(backend: HFBackend, ds: Dataset, plan: list, reuse: bool) -> dict:
    """Run `plan` (backend order) with or without prefix reuse: seconds, prefill tokens, results by key."""
    backend.set_prefix_reuse(reuse)
    start = time.perf_counter()
    results = {r.sample.key: r for r in backend.run(backend.order(plan), ds)}
    _sync(backend.model.device.type)
    return {"seconds": time.perf_counter() - start, "tokens": backend.runner.tokens_computed, "results": results}


def compare_answers(a: dict, b: dict) -> dict:
    """Agreement of two result sets: same predictions (the primary metric, exact match), same
    outcome under every metric, largest option log-prob gap."""
    keys = sorted(a)
    gaps = [
        abs(lp - b[k].scores["option_logprobs"][L]) for k in keys for L, lp in a[k].scores["option_logprobs"].items()
    ]
    return {
        "same_predictions": sum(a[k].prediction == b[k].prediction for k in keys) / len(keys),
        "same_metrics": sum(a[k].outcomes == b[k].outcomes for k in keys) / len(keys),
        "max_logprob_gap": max(gaps, default=0.0),
    }


def _sync(device_type: str) -> None:
    if device_type == "cuda":
        torch.cuda.synchronize()


# ---------------------------------------------------------------------- CPU mode


def cpu_reuse(workdir: Path) -> None:
    from niah.backends.hf.tiny import save_tiny_checkpoint

    ckpt = workdir / "tiny-qwen2-vl"
    if not ckpt.exists():
        save_tiny_checkpoint(ckpt, "qwen2_vl")
    config = resolve_config("longva", lengths="20:300:20", width=112, height=56, distractor_period=20)
    ds = Dataset(generate(workdir / "longva-scaled", config))
    plan = make_plan(ds, dataset_tasks(ds), [resolve_variant("m-rope")])
    backend = HFBackend(str(ckpt), dtype="float32", device="cpu")
    backend._load(ds)
    backend._encode_frames(ds, plan)
    naive, reuse = (run_plan(backend, ds, plan, r) for r in (False, True))
    same = compare_answers(naive["results"], reuse["results"])
    print(f"{len(plan)} samples (longva grid shape / 10: 20-300 frames, 8 tokens per frame), tiny Qwen2-VL, CPU")
    print(f"naive  prefill {naive['tokens']:>10,} tokens  {naive['seconds']:7.1f} s")
    print(
        f"reuse  prefill {reuse['tokens']:>10,} tokens  {reuse['seconds']:7.1f} s   = "
        f"{reuse['tokens'] / naive['tokens']:.2f}x tokens, {reuse['seconds'] / naive['seconds']:.2f}x time"
    )
    gap = same["max_logprob_gap"]
    print(f"same answers: {same['same_predictions']:.0%} of predictions, {same['same_metrics']:.0%} of outcomes under "
          f"every metric, largest log-prob gap {gap:.1e}")


# ---------------------------------------------------------------------- GPU mode


def matmul_peak(scale: Scale) -> dict:
    n = scale.matmul
    dtype = getattr(torch, scale.dtype)
    a, b = (torch.randn(n, n, device=scale.device, dtype=dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    _sync(scale.device)
    reps = 20
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(scale.device)
    tflops = 2 * n**3 * reps / (time.perf_counter() - start) / 1e12
    print(f"matmul peak ({n}³ {scale.dtype}): {tflops:.1f} TFLOP/s")
    return {"tflops": tflops}


def one_prefill(model, n: int, chunk: int, recorder=None) -> tuple[float, int]:
    """Seconds and peak bytes of one n-token prefill (random embeddings, m-rope text positions);
    `recorder`: attention at the answer recorded too (niah.answer_attention, scripts/bench_attention.py)."""
    lm = model.model.language_model
    device = model.device
    hidden = lm.config.hidden_size
    dtype = lm.embed_tokens.weight.dtype
    gen = torch.Generator(device=device).manual_seed(n)

    def embed(start: int, stop: int):
        return torch.randn(1, stop - start, hidden, device=device, dtype=dtype, generator=gen), {}

    runner = PromptRunner(model, chunk, reuse=False)
    positions = torch.arange(n, dtype=torch.float64).expand(3, n)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    _sync(device.type)
    start = time.perf_counter()
    runner.prefill([Segment(f"random:{n}", n)], positions, embed, recorder=recorder)
    _sync(device.type)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
    del runner
    return seconds, peak


def prefill_speed(backend: HFBackend, scale: Scale, peak_tflops: float | None) -> dict:
    from niah.backends.hf.attention import use_chunked_causal

    model = backend.model
    config = model.model.language_model.config
    params = linear_params(config)
    rows = []
    print(f"{'tokens':>8} {'attention':<10} {'s':>8} {'tok/s':>9} {'TFLOP/s':>8} {'% peak':>7} {'peak GiB':>9}")
    for n in [int(t) for t in scale.tokens.split(",")]:
        for attention in ("sdpa", "sdpa-stock"):
            if attention == "sdpa-stock" and n > scale.stock_max:
                continue
            if attention == "sdpa":
                use_chunked_causal(model)
            else:
                model.set_attn_implementation({"text_config": "sdpa"})
            seconds, peak = one_prefill(model, n, scale.chunk)
            tflops = prefill_flops(config, n) / seconds / 1e12
            share = f"{tflops / peak_tflops:7.0%}" if peak_tflops else f"{'-':>7}"
            print(f"{n:>8} {attention:<10} {seconds:8.2f} {n / seconds:9.0f} {tflops:8.1f} {share} {peak / 2**30:9.1f}")
            rows.append(
                {"tokens": n, "attention": attention, "seconds": seconds, "tflops": tflops, "peak_gib": peak / 2**30}
            )
    use_chunked_causal(model)
    return {"params": params, "rows": rows}


def fit_cost(prefill: dict) -> tuple[float, float]:
    """a, b of seconds(N) = a·N + b·N² (least squares over niah-attention prefills)."""
    rows = [r for r in prefill["rows"] if r["attention"] == "sdpa"]
    n = np.array([r["tokens"] for r in rows], dtype=float)
    t = np.array([r["seconds"] for r in rows])
    (a, b), *_ = np.linalg.lstsq(np.stack([n, n * n], 1), t, rcond=None)
    return float(a), float(b)


def predicted_seconds(spans: list[tuple[int, int]], a: float, b: float) -> float:
    return sum(a * (n - k) + b * (n * n - k * k) for k, n in spans)


def grid_slice(backend: HFBackend, ds: Dataset, scale: Scale, cost: tuple[float, float] | None) -> dict:
    from niah.data.grid import parse_int_list

    plan = make_plan(
        ds,
        [TASKS["v-niah"]],
        [resolve_variant("m-rope")],
        lengths=parse_int_list(scale.grid_lengths, "lengths"),
        depths=parse_int_list(scale.grid_depths, "depths"),
    )
    first_needle = min(s.cell.needle for s in plan)
    plan = [s for s in plan if s.cell.needle == first_needle]
    start = time.perf_counter()
    frames = backend._encode_frames(ds, plan)
    _sync(scale.device)
    encode_s = time.perf_counter() - start
    naive, reuse = (run_plan(backend, ds, plan, r) for r in (False, True))
    same = compare_answers(naive["results"], reuse["results"])
    print(
        f"grid slice: {len(plan)} samples, lengths {scale.grid_lengths} frames, depths {scale.grid_depths} %, "
        f"needle {first_needle}, v-niah, m-rope; vision tower encoded {frames} frames in {encode_s:.1f} s"
    )
    out = {"samples": len(plan), "vision_frames": frames, "vision_seconds": encode_s, **same}
    for name, r, reusing in (("naive", naive, False), ("reuse", reuse, True)):
        backend.set_prefix_reuse(reusing)
        spans = backend.prefill_spans(ds, backend.order(plan))
        model = f"   cost model {predicted_seconds(spans, *cost):7.1f} s" if cost else ""
        print(f"{name:<6} prefill {r['tokens']:>12,} tokens  {r['seconds']:8.1f} s{model}")
        out[name] = {"seconds": r["seconds"], "tokens": r["tokens"]}
    print(
        f"reuse/naive: {reuse['tokens'] / naive['tokens']:.2f}x tokens, {reuse['seconds'] / naive['seconds']:.2f}x "
        f"time; same predictions {same['same_predictions']:.0%}, "
        f"same outcome under every metric {same['same_metrics']:.0%}, "
        f"largest option log-prob gap {same['max_logprob_gap']:.2e}"
    )
    return out


def estimate(backend: HFBackend, ds: Dataset, cost: tuple[float, float]) -> dict:
    plan = make_plan(ds, dataset_tasks(ds), [resolve_variant("m-rope")])
    out = {"samples_per_variant": len(plan), "a": cost[0], "b": cost[1]}
    for name, reusing in (("naive", False), ("reuse", True)):
        backend.set_prefix_reuse(reusing)
        spans = backend.prefill_spans(ds, backend.order(plan))
        hours = predicted_seconds(spans, *cost) / 3600
        tokens = sum(n - k for k, n in spans)
        out[name] = {"hours": hours, "tokens": tokens}
        print(f"full grid ({len(plan)} samples per variant), {name:<5}: {tokens:>14,} prefill tokens  {hours:6.2f} h")
    print(
        f"reuse/naive: {out['reuse']['hours'] / out['naive']['hours']:.2f}x time "
        f"(cost model a={cost[0]:.3e} s/token, b={cost[1]:.3e} s/token²)"
    )
    return out


def gpu(workdir: Path, scale: Scale, stages: list[str], json_path: Path) -> dict:
    from niah.backends.hf.tiny import save_checkpoint

    record = json.loads(json_path.read_text()) if json_path.exists() else {}
    ckpt = workdir / f"random-qwen2-vl-{scale.name}"
    if not (ckpt / "config.json").exists():
        save_checkpoint(ckpt, scale.model_config(), weights=False)
    ds_dir = workdir / f"longva-{scale.name}"
    ds = Dataset(
        ds_dir if (ds_dir / "manifest.json").exists() else generate(ds_dir, resolve_config("longva", **scale.dataset))
    )
    backend = HFBackend(
        str(ckpt), dtype=scale.dtype, device=scale.device, random_weights=True, chunk_tokens=scale.chunk
    )
    if "peak" in stages:
        record["peak"] = matmul_peak(scale)
    if "prefill" in stages or "grid" in stages:
        backend._load(ds)
    if "prefill" in stages:
        record["prefill"] = prefill_speed(backend, scale, record.get("peak", {}).get("tflops"))
    cost = fit_cost(record["prefill"]) if "prefill" in record else None
    if "grid" in stages:
        record["grid"] = grid_slice(backend, ds, scale, cost)
    if "estimate" in stages:
        if cost is None:
            raise SystemExit("the estimate needs the prefill stage's numbers: run --stages prefill first")
        record["estimate"] = estimate(backend, ds, cost)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(record, indent=1))
    print(f"numbers: {json_path}")
    return record


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "niah-bench-hf"))
    ap.add_argument("--gpu", action="store_true", help="the GPU stages with the Qwen2-VL-7B architecture (CUDA)")
    ap.add_argument("--smoke", action="store_true", help="with --gpu: toy sizes on the CPU, to check the script")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"with --gpu: some of {', '.join(STAGES)}")
    ap.add_argument("--tokens", help="with --gpu: prompt lengths of the prefill stage, comma-separated")
    ap.add_argument("--json", help="with --gpu: where the numbers go (default: WORKDIR/bench_hf_gpu.json)")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not args.gpu:
        cpu_reuse(workdir)
        return
    scale = SMOKE if args.smoke else GPU
    if args.tokens:
        from dataclasses import replace

        scale = replace(scale, tokens=args.tokens)
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise SystemExit(f"unknown stage {unknown[0]}: choose from {', '.join(STAGES)}")
    gpu(workdir, scale, stages, Path(args.json) if args.json else workdir / "bench_hf_gpu.json")


if __name__ == "__main__":
    main()
