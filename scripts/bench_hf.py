"""Benchmark the transformers backend: prefix reuse vs naive prefill, and (on a GPU) prefill speed.

CPU (default): a tiny random Qwen2-VL (niah.backends.hf.tiny) on the longva grid shape scaled
down 10× in length (20–300 frames step 20, depths 0–100 step 20, 5 needles, 112×56 frames =
8 tokens per frame), m-rope, both tasks. Reports prefill tokens and wall time with and without
prefix reuse, side by side in one run, and checks the answers are the same.

    python scripts/bench_hf.py [--workdir DIR]

GPU (--gpu): the Qwen2-VL-7B language model (its published config, random bf16 weights: the same
compute as the real weights) prefilling one prompt of N tokens in chunks, for N in --tokens.
Reports tokens/s, achieved TFLOP/s and peak memory, and the estimated hours of the full longva
grid (m-rope, both tasks) naive vs with reuse, from the measured tokens/s and the prefill tokens
of each plan. FLOPs of a causal prefill of N tokens: 2·P·N (P = non-embedding parameters) +
2·n_layers·N²·d_model (QKᵀ and AV, each N²/2·d_model multiply-adds per layer).

    python scripts/bench_hf.py --gpu --tokens 16384,65536,147456,294912,432000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

QWEN2_VL_7B_TEXT = {
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 524288,
    "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1e6},
}


def cpu_reuse(workdir: Path) -> None:
    from niah.backends.hf import HFBackend
    from niah.backends.hf.tiny import save_tiny_checkpoint
    from niah.data.dataset import Dataset
    from niah.data.generate import generate, resolve_config
    from niah.rope import resolve_variant
    from niah.sweep.plan import make_plan
    from niah.sweep.tasks import TASKS

    ckpt = workdir / "tiny-qwen2-vl"
    if not ckpt.exists():
        save_tiny_checkpoint(ckpt, "qwen2_vl")
    config = resolve_config("longva", lengths="20:300:20", width=112, height=56, distractor_period=20)
    ds = Dataset(generate(workdir / "longva-scaled", config))
    plan = make_plan(ds, list(TASKS.values()), [resolve_variant("m-rope")])
    rows = {}
    for reuse in (False, True):
        backend = HFBackend(str(ckpt), dtype="float32", device="cpu", no_prefix_reuse=not reuse)
        backend._load(ds)
        backend._encode_frames(ds, plan)
        start = time.perf_counter()
        results = {r.sample.key: r.prediction for r in backend.run(backend.order(plan), ds)}
        rows[reuse] = (time.perf_counter() - start, backend.runner.tokens_computed, results)
    (t0, n0, r0), (t1, n1, r1) = rows[False], rows[True]
    print(f"{len(plan)} samples (longva grid shape / 10: 20-300 frames, 8 tokens per frame), tiny Qwen2-VL, CPU")
    print(f"naive  prefill {n0:>10,} tokens  {t0:7.1f} s")
    print(f"reuse  prefill {n1:>10,} tokens  {t1:7.1f} s   = {n1 / n0:.2f}x tokens, {t1 / t0:.2f}x time")
    print(f"same answers: {r0 == r1}")


def gpu_prefill(token_counts: list[int]) -> None:
    from transformers import DynamicCache, Qwen2VLConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLTextModel

    from niah.backends.hf.rotary import VariantRotary
    from niah.rope import resolve_variant

    config = Qwen2VLConfig(text_config=QWEN2_VL_7B_TEXT).text_config
    config._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = Qwen2VLTextModel(config).to(torch.bfloat16).eval()
    model.rotary_emb = VariantRotary(resolve_variant("m-rope"), config).cuda()
    params = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)
    for n in token_counts:
        torch.cuda.reset_peak_memory_stats()
        cache = DynamicCache(config=config)
        x = torch.randn(1, n, config.hidden_size, device="cuda", dtype=torch.bfloat16)
        pos = torch.arange(n, device="cuda").view(1, 1, -1).expand(3, 1, -1)
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            for a in range(0, n, 8192):
                model(inputs_embeds=x[:, a : a + 8192], position_ids=pos[..., a : a + 8192], past_key_values=cache,
                      use_cache=True)  # fmt: skip
        torch.cuda.synchronize()
        dt = time.perf_counter() - start
        flops = 2 * params * n + 2 * config.num_hidden_layers * n * n * config.hidden_size
        print(
            f"{n:>7} tokens  {dt:7.2f} s  {n / dt:9.0f} tok/s  {flops / dt / 1e12:6.1f} TFLOP/s  "
            f"peak {torch.cuda.max_memory_allocated() / 2**30:5.1f} GiB"
        )
        del cache, x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "niah-bench-hf"))
    ap.add_argument("--gpu", action="store_true", help="prefill speed of the Qwen2-VL-7B language model (CUDA)")
    ap.add_argument("--tokens", default="16384,65536,147456,294912,432000")
    args = ap.parse_args()
    if args.gpu:
        gpu_prefill([int(t) for t in args.tokens.split(",")])
    else:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        cpu_reuse(Path(args.workdir))


if __name__ == "__main__":
    main()
