"""`niah run --gpus N`: N worker processes, one per GPU, each running one shard of the plan.

Worker i runs `python -m niah ... run ... --shard i/N -q` with CUDA_VISIBLE_DEVICES set to the
i-th GPU (of CUDA_VISIBLE_DEVICES if already set, else of all), so its GPU is cuda:0 and it
holds a whole model; its output goes to OUT/logs/rank-I-of-N.log. The parent shows one
progress bar over all shards (it counts finished samples in the run dir) and waits. The worker
that finishes last merges the shard files (niah.sweep.store), as under torchrun.

Workers run in their own process group: Ctrl-C reaches the parent alone, which passes one
SIGINT to each worker (each saves what finished) and raises RunInterrupted. A worker that
fails is reported with the last line of its log; the others run on, and rerunning the same
command resumes every shard.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from niah.errors import NiahError
from niah.sweep.engine import RunConfig, RunInterrupted, prepare
from niah.sweep.plan import Shard
from niah.sweep.store import SUMMARY, ResultsStore

LOGS = "logs"
POLL_S = 0.5  # seconds between progress checks


@dataclass
class Worker:
    shard: Shard
    gpu: str
    log: Path
    process: subprocess.Popen

    def last_line(self) -> str:
        lines = [x for x in self.log.read_text(errors="replace").splitlines() if x.strip()]
        return lines[-1].strip() if lines else "(no output)"


def gpu_ids(count: int) -> list[str]:
    """The GPUs the workers get: the first `count` of CUDA_VISIBLE_DEVICES, or 0..count−1."""
    visible = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    if visible and len(visible) < count:
        raise NiahError(f"--gpus {count} but CUDA_VISIBLE_DEVICES names {len(visible)}: ask for at most that many")
    return visible[:count] if visible else [str(i) for i in range(count)]


def start_workers(niah_args: Sequence[str], run_args: Sequence[str], count: int, out: Path) -> list[Worker]:
    """Start `python -m niah NIAH_ARGS run RUN_ARGS --shard i/count -q` for i = 1..count."""
    (out / LOGS).mkdir(parents=True, exist_ok=True)
    workers = []
    for gpu, index in zip(gpu_ids(count), range(1, count + 1), strict=True):
        shard = Shard(index, count)
        log = out / LOGS / f"rank{shard.suffix}.log"
        # the shard is given on the command line, not taken from a torchrun around this process
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
        env.update(CUDA_VISIBLE_DEVICES=gpu, PYTHONUNBUFFERED="1")
        argv = [sys.executable, "-m", "niah", *niah_args, "run", *run_args, "--shard", f"{index}/{count}", "-q"]
        with open(log, "a", encoding="utf-8") as sink:
            process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        workers.append(Worker(shard, gpu, log, process))
    return workers


def wait_for(workers: list[Worker], out: Path, plan_keys: set[str], quiet: bool = False, desc: str = "") -> None:
    """Wait for every worker with one progress bar; Ctrl-C → SIGINT to each, then RunInterrupted.
    Raises NiahError naming each worker that failed."""
    store = ResultsStore(out)

    def done() -> int:
        return len(store.done_keys() & plan_keys)

    bar = tqdm(total=len(plan_keys), initial=done(), unit="sample", disable=quiet, desc=desc)
    try:
        while any(w.process.poll() is None for w in workers):
            time.sleep(POLL_S)
            bar.update(done() - bar.n)
    except KeyboardInterrupt:
        for w in workers:
            if w.process.poll() is None:
                w.process.send_signal(signal.SIGINT)
        for w in workers:
            w.process.wait()
        raise RunInterrupted(
            f"interrupted: finished samples are saved in {out}; rerun the same command to resume"
        ) from None
    finally:
        bar.update(done() - bar.n)
        bar.close()
    failed = [w for w in workers if w.process.returncode != 0]
    if failed:
        raise NiahError("; ".join(
            f"worker {w.shard.index}/{w.shard.count} (GPU {w.gpu}) exited {w.process.returncode}: {w.last_line()} "
            f"(log: {w.log})" for w in failed) + "; rerun the same command to resume")  # fmt: skip


def check_gpus(count: int) -> None:
    """One line if this machine has fewer CUDA GPUs than asked for."""
    import torch

    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if have < count:
        raise NiahError(f"--gpus {count} but this machine has {have} CUDA GPU{'s' if have != 1 else ''}: "
                        "ask for at most that many (the probe model runs --gpus N as N CPU processes)")  # fmt: skip


def run_workers(config: RunConfig, out: str | Path, count: int, niah_args: Sequence[str], run_args: Sequence[str],
                force: bool = False, quiet: bool = False) -> dict[str, Any] | None:  # fmt: skip
    """Run (or resume) the sweep as `count` workers. Everything is checked here first, and the run
    dir created (so --force discards old results once, not once per worker). Returns the summary
    when the plan is complete, else None."""
    p = prepare(config, Shard())
    if config.model.startswith("hf:"):
        check_gpus(count)
    store = ResultsStore.open(out, p.resolved, force=force)  # held: a second run on this dir is refused
    try:
        out = Path(out)
        workers = start_workers(niah_args, run_args, count, out)
        wait_for(workers, out, {s.key for s in p.plan}, quiet, desc=f"{p.backend.name} on {count} workers")
    finally:
        store.close()
    summary = out / SUMMARY
    return json.loads(summary.read_text()) if summary.is_file() else None
