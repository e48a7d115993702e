"""Training speed of niah train's tiny models on this machine, every variant side by side.

For each variant: the same seed, batches and thread count; `--steps` optimizer steps timed after
`--warmup` untimed ones. Prints samples/s and tokens/s (prompt tokens, vision and text, summed
over the batch) and the ratio to vanilla, measured in one run.

    python scripts/bench_train.py                      # vanilla, m-rope, videorope, 2 threads
    python scripts/bench_train.py --variants vanilla,hope --steps 50 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from niah.rope import resolve_variant
from niah.train.data import Stream, build_pool
from niah.train.model import TinyConfig, TinyModel
from niah.train.trainer import TrainOptions, loss_and_hits


def measure(variant: str, steps: int, warmup: int, threads: int, pool) -> tuple[float, float]:
    """(samples/s, tokens/s) of training steps for one variant."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = TinyConfig(variant=resolve_variant(variant).spec)
    options = TrainOptions()
    stream = Stream(config, resolve_variant(variant), 0, options.lengths, options.batch, pool)
    model = TinyModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr)
    tokens = 0
    for step in range(warmup + steps):
        if step == warmup:
            start, tokens = time.perf_counter(), 0
        batch = stream.batch_at(step)
        loss, _ = loss_and_hits(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        tokens += int(batch.last.sum()) + len(batch.last)
    seconds = time.perf_counter() - start
    return steps * options.batch / seconds, tokens / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="vanilla,m-rope,videorope")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    pool = build_pool(TinyConfig(), 0)
    rows = [(v, *measure(v, args.steps, args.warmup, args.threads, pool)) for v in args.variants.split(",")]
    base = rows[0][1]
    print(f"{'variant':<12} {'samples/s':>10} {'tokens/s':>10} {'vs ' + rows[0][0]:>12}")
    for name, samples, tokens in rows:
        print(f"{name:<12} {samples:>10.1f} {tokens:>10.0f} {samples / base:>11.2f}x")


if __name__ == "__main__":
    main()
