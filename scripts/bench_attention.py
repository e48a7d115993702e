"""What `niah run --attention` costs: prefill with and without the attention recorder, side by side.

The recorder adds, per attention layer of the prompt's last chunk, one query row against every key
(niah.answer_attention). Measured on one prompt of N tokens (random embeddings, frames of 144
tokens), alternating without / with the recorder `--reps` times, medians reported, and the ratio;
and the recorder's own work timed alone (one observe per layer on the layer's shapes), which the
prefill difference equals up to noise.

CPU (default): Qwen2-VL-7B's text widths (3584, 28 query / 4 KV heads of 128, MLP 18944) with
--layers layers (2) and a 1024-token vocabulary, float32, random weights: the per-layer ratio is
what a 28-layer model pays, and the real model does not fit a CPU's time.

    python scripts/bench_attention.py [--tokens 512,2048] [--reps 3]

GPU (--gpu): the whole Qwen2-VL-7B architecture, bf16 random weights, N = 8192,32768,65536 in
8192-token chunks (the issue's bar: well under a second per sample at 64K tokens).

    python scripts/bench_attention.py --gpu
    python scripts/bench_attention.py --smoke     # toy sizes on the CPU (a test runs this)

Numbers go to --json (default: $TMPDIR/niah-bench-attention.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_hf import one_prefill

from niah.answer_attention import Recorder


def build_model(device: str, layers: int | None, smoke: bool):
    """Random weights of Qwen2-VL-7B's architecture (`layers` text layers, small vocabulary) or, with
    `smoke`, niah's tiny Qwen2-VL; sdpa attention through niah's own function, as a run uses."""
    from transformers import AutoModelForImageTextToText

    from niah.backends.hf.attention import use_chunked_causal
    from niah.backends.hf.tiny import qwen2_vl_7b_config, tiny_config

    config = tiny_config("qwen2_vl") if smoke else qwen2_vl_7b_config()
    text = config.get_text_config()
    if layers is not None:
        text.num_hidden_layers = layers
        text.layer_types = text.layer_types[:layers] if getattr(text, "layer_types", None) else None
    if device == "cpu" and not smoke:
        text.vocab_size = 1024  # the lm_head runs once per prompt: the vocabulary does not change the ratio
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype, attn_implementation="sdpa")
    use_chunked_causal(model)
    return model.eval()


def recorder(n: int, per_frame: int = 144) -> Recorder:
    """A recorder for an n-token prompt of 16 text tokens, then frames of `per_frame` tokens, then 16 text tokens."""
    per_frame = min(per_frame, n - 32)
    frames = (n - 32) // per_frame
    token_frame = torch.full((n,), -1, dtype=torch.long)
    token_frame[16 : 16 + frames * per_frame] = torch.arange(frames).repeat_interleave(per_frame)
    return Recorder(token_frame, frames)


def observe_seconds(model, n: int, reps: int, layers: int | None = None) -> float:
    """Median seconds of the recorder's own work for one prompt: one `observe` per layer on the
    layer's shapes (the last query row against n keys) for each of `layers` layers (default: the
    model's), timed alone; the prefill comparison's difference is this plus noise."""
    text = model.config.get_text_config()
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    q = torch.randn(text.num_attention_heads, head_dim, device=device, dtype=dtype)
    k = torch.randn(text.num_key_value_heads, n, head_dim, device=device, dtype=dtype)
    times = []
    for _ in range(reps + 1):
        rec = recorder(n)
        sync(device)
        start = time.perf_counter()
        for layer in range(layers or text.num_hidden_layers):
            rec.observe(layer, q, k, head_dim**-0.5)
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(model, tokens: list[int], chunk: int, reps: int) -> list[dict]:
    rows = []
    print(f"{'tokens':>8} {'without s':>10} {'with s':>9} {'extra s':>8} {'ratio':>6} {'extra peak MiB':>15} "
          f"{'recorder alone s':>17}")  # fmt: skip
    for n in tokens:
        one_prefill(model, n, chunk)  # warm-up
        plain, recorded, peaks = [], [], []
        for _ in range(reps):
            s, p0 = one_prefill(model, n, chunk)
            plain.append(s)
            s, p1 = one_prefill(model, n, chunk, recorder(n))
            recorded.append(s)
            peaks.append(p1 - p0)
        a, b = statistics.median(plain), statistics.median(recorded)
        extra_peak = max(peaks) / 2**20
        alone = observe_seconds(model, n, reps)
        print(f"{n:>8} {a:10.3f} {b:9.3f} {b - a:8.3f} {b / a:6.3f} {extra_peak:15.1f} {alone:17.4f}")
        rows.append({"tokens": n, "without_s": a, "with_s": b, "extra_s": b - a, "ratio": b / a,
                     "extra_peak_mib": extra_peak, "recorder_alone_s": alone, "reps": reps})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="the whole Qwen2-VL-7B architecture on CUDA, bf16")
    ap.add_argument("--smoke", action="store_true", help="toy sizes on the CPU, to check the script")
    ap.add_argument("--tokens", help="prompt lengths, comma-separated (CPU 512,2048; GPU 8192,32768,65536)")
    ap.add_argument("--layers", type=int, default=None, help="text layers (CPU default 2; GPU: all 28)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per length (default 3; 2 with --gpu)")
    ap.add_argument("--json", default=str(Path(tempfile.gettempdir()) / "niah-bench-attention.json"))
    args = ap.parse_args(argv)
    device = "cuda" if args.gpu else "cpu"
    args.reps = args.reps or (2 if args.gpu else 3)
    tokens = args.tokens or ("8192,32768,65536" if args.gpu else "64,256" if args.smoke else "512,2048")
    layers = args.layers if args.layers is not None else (None if args.gpu or args.smoke else 2)
    model = build_model(device, layers, args.smoke)
    text = model.config.get_text_config()
    what = ("tiny Qwen2-VL" if args.smoke else "Qwen2-VL-7B widths") + f", {text.num_hidden_layers} layers, {device}"
    print(f"attention recorder cost: {what}, {next(model.parameters()).dtype}")
    rows = measure(model, [int(t) for t in tokens.split(",")], 8192, args.reps)
    long = 1024 if args.smoke else 65536
    alone = observe_seconds(model, long, args.reps, layers=28)
    print(f"the recorder alone at {long:,} tokens × 28 layers (Qwen2-VL-7B's count): {alone:.3f} s per sample")
    record = {"model": what, "torch": torch.__version__, "rows": rows,
              "alone_at_long": {"tokens": long, "layers": 28, "seconds": alone}}  # fmt: skip
    Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    print(f"numbers: {args.json}")


if __name__ == "__main__":
    main()
