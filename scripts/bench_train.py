"""Training speed of niah train's tiny models on this machine, every variant side by side.

For each variant: the same seed, batches and thread count; `--steps` optimizer steps timed after
`--warmup` untimed ones. Prints samples/s and tokens/s (prompt tokens, vision and text, summed
over the batch) and the ratio to vanilla, measured in one run.

    python scripts/bench_train.py                      # vanilla, m-rope, videorope, 2 threads
    python scripts/bench_train.py --variants vanilla,hope --steps 50 --threads 1
    python scripts/bench_train.py --logs models/          # time to 95 % per trained model, from its log

Time to 95 %: the training seconds at the first log line (every 50 steps) past the length
curriculum whose training accuracy is at least 0.95, for each checkpoint dir under --logs (trained
under the same conditions, e.g. by one `niah train` call). Training accuracy is on fresh samples
(every sample is new), so it is a held-out measure at the training lengths.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from niah.rope import resolve_variant
from niah.train.data import Stream, build_pool
from niah.train.model import TinyConfig, TinyModel
from niah.train.trainer import CONFIG, LOG, TrainOptions, loss_and_hits


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
        loss, _ = loss_and_hits(model, batch, options.frame_loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        tokens += int(batch.last.sum()) + len(batch.last)
    seconds = time.perf_counter() - start
    return steps * options.batch / seconds, tokens / seconds


def time_to(folder: Path, target: float = 0.95) -> tuple[str, float | None, int | None]:
    """(variant, seconds, step) at which a trained model's log first shows `target` training
    accuracy at full training lengths (after its curriculum), or None if it never does."""
    record = json.loads((folder / CONFIG).read_text())
    options = TrainOptions(**{k: v for k, v in record["train"].items() if k in TrainOptions.__dataclass_fields__})
    full = options.vision + options.curriculum * (options.steps - options.vision)
    for line in (folder / LOG).read_text().splitlines():
        entry = json.loads(line)
        if entry["step"] >= full and (entry.get("accuracy") or 0) >= target:
            return record["model"]["variant"], entry["seconds"], entry["step"]
    return record["model"]["variant"], None, None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="vanilla,m-rope,videorope")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--logs", type=Path, help="Report time to 95 %% of the models trained in this dir instead.")
    args = parser.parse_args(argv)
    if args.logs:
        for folder in sorted(p.parent for p in args.logs.glob(f"*/{CONFIG}")):
            variant, seconds, step = time_to(folder)
            reached = f"{seconds:.0f} s (step {step})" if seconds is not None else "not reached"
            print(f"{folder.name:<40} {variant:<44} 95 % at {reached}")
        return
    pool = build_pool(TinyConfig(), 0)
    rows = [(v, *measure(v, args.steps, args.warmup, args.threads, pool)) for v in args.variants.split(",")]
    base = rows[0][1]
    print(f"{'variant':<12} {'samples/s':>10} {'tokens/s':>10} {'vs ' + rows[0][0]:>12}")
    for name, samples, tokens in rows:
        print(f"{name:<12} {samples:>10.1f} {tokens:>10.0f} {samples / base:>11.2f}x")


if __name__ == "__main__":
    main()
