"""Training one tiny model per (variant, seed): checkpoints, resume, log, progress.

A checkpoint dir holds
    config.json      the model config (TinyConfig) and the training options (TrainOptions)
    model.safetensors the weights (written at every checkpoint and at the end)
    state.pt         optimizer state and the step reached (deleted when training is done)
    log.jsonl        one line every `log_every` steps: step, loss, accuracy over the window, seconds
Batches are a pure function of the step (niah.train.data.Stream), there is no dropout, and the
optimizer state is saved with the weights, so a run killed at any point and resumed from its last
checkpoint ends with the same weights as an uninterrupted one (same seed, same thread count).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from niah.errors import NiahError
from niah.files import atomic_replace, exclusive_lock
from niah.rope import RopeVariant, resolve_variant
from niah.train.data import IGNORE, Batch, Pool, Stream
from niah.train.model import TinyConfig, TinyModel

CONFIG, WEIGHTS, STATE, LOG = "config.json", "model.safetensors", "state.pt", "log.jsonl"
LOCK = ".lock"  # held (flock) while a process trains the dir: a second trainer is refused


@dataclass
class TrainOptions:
    """How a model is trained. Lengths in haystack frames; steps of `batch` samples."""

    seed: int = 0
    steps: int = 3600  # the smallest measured budget reaching 95 % V-NIAH / 90 % V-NIAH-D (docs/train.md)
    batch: int = 16
    lengths: list[int] = field(default_factory=lambda: [4, 6, 8, 10, 12])
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    checkpoint_every: int = 200
    log_every: int = 50
    curriculum: float = 0.5  # haystack lengths grow from 0 to their drawn value over this fraction of steps
    frame_loss: float = 1.0  # weight of the frame heads' loss (which key, which value each frame shows)
    vision_steps: int = 300  # the first steps (at most a sixth) train the frame encoder alone, on needle images

    @property
    def vision(self) -> int:
        """Steps of the vision phase: `vision_steps`, at most a sixth of all steps."""
        return min(self.vision_steps, self.steps // 6)


def checkpoint_name(variant: str, seed: int) -> str:
    """The dir name of a (variant, seed): 'videorope-delta2-layoutdiagonal-alloclow-s0',
    'mmrope-temporal_stride1-position_scale4-8-8-s0' (no brackets: they are shell globs)."""
    slug = variant.translate(str.maketrans({":": "-", ",": "-", "/": "-", "=": None, "[": None, "]": None}))
    return f"{slug}-s{seed}"


def _lr(step: int, o: TrainOptions) -> float:
    """Linear warm-up, then cosine decay to 10 % (per step)."""
    if step < o.warmup:
        return o.lr * (step + 1) / o.warmup
    progress = (step - o.warmup) / max(1, o.steps - o.warmup)
    return o.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _cap(step: int, o: TrainOptions) -> int | None:
    """The curriculum's longest haystack at `step` (frames): grows linearly to max(lengths) over
    the first `curriculum` fraction of the steps after the vision steps."""
    ramp = o.curriculum * (o.steps - o.vision)
    done = step - o.vision
    return None if done >= ramp else int(max(o.lengths) * done / ramp)


def loss_and_hits(model: TinyModel, batch: Batch, frame_loss: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over each sample's own options (plus `frame_loss` × the frame heads'
    cross-entropy), and whether each sample's argmax is the answer (B,)."""
    logits, keys, values = model.answer_and_frames(batch.ids, batch.pixels, batch.is_vision, batch.cos, batch.sin,
                                                   batch.last)  # fmt: skip
    scores = logits.gather(1, batch.options)  # (B, 4)
    loss = F.cross_entropy(scores, batch.target)
    if frame_loss and batch.frame_keys is not None:
        loss = loss + frame_loss * frame_heads_loss(keys, values, batch.frame_keys, batch.frame_values)
    return loss, scores.argmax(1) == batch.target


def frame_heads_loss(keys: torch.Tensor, values: torch.Tensor, key_labels: torch.Tensor,
                     value_labels: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Cross-entropy of the frame heads' logits (n, gh·gw, ·) against per-frame labels (n,):
    every token of a frame carries its frame's labels."""
    n = keys.shape[1]
    key_loss = F.cross_entropy(keys.flatten(0, 1), key_labels.repeat_interleave(n))
    return key_loss + F.cross_entropy(values.flatten(0, 1), value_labels.repeat_interleave(n), ignore_index=IGNORE)


def vision_loss(model: TinyModel, frames: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The frame heads' loss alone on (features (n, gh·gw, F), keys (n,), values (n,))."""
    features, keys, values = frames
    return frame_heads_loss(*model.frame_heads(model.vision(features)), keys, values)


def _save(out: Path, model: TinyModel, optimizer: torch.optim.Optimizer | None, step: int) -> None:
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_replace(out / WEIGHTS, lambda p: save_file(weights, str(p), metadata={"step": str(step)}))
    if optimizer is not None:
        atomic_replace(out / STATE, lambda p: torch.save({"step": step, "optimizer": optimizer.state_dict()}, p))


def _check_same(out: Path, record: dict[str, Any]) -> None:
    old = json.loads((out / CONFIG).read_text())
    old["model"] = json.loads(json.dumps(TinyConfig(**old["model"]).as_json()))  # settings added since: defaults
    if old != record:
        diff = [f"{part}.{k}" for part in ("model", "train") for k in sorted(set(old[part]) | set(record[part]))
                if old[part].get(k) != record[part].get(k)]  # fmt: skip
        raise NiahError(f"'{out}' holds a model trained with other settings ({', '.join(diff)} differ): "
                        "choose another --out or delete it")  # fmt: skip


def train(out: str | Path, config: TinyConfig, options: TrainOptions, threads: int = 2, pool: Pool | None = None,
          progress: Callable[[int, int, dict[str, float]], None] | None = None,
          device: str = "cpu") -> Path:  # fmt: skip
    """Train (or resume, or skip when done) the model of `config` into checkpoint dir `out`, on
    `device` (the batches are drawn on the CPU either way, so a checkpoint trained on one device
    resumes on another).

    `progress(step, steps, stats)` is called after every step. Returns `out`."""
    out = Path(out)
    record = {"model": config.as_json(), "train": asdict(options)}
    record = json.loads(json.dumps(record))  # tuples as lists, as they read back
    variant = resolve_variant(config.variant)
    variant.require_shared_table("the tiny model")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NiahError(f"cannot write checkpoint dir '{out}': {err.strerror}: choose another --out") from None
    lock = exclusive_lock(out / LOCK, f"checkpoint dir '{out}' is being trained by another niah train: wait for it "
                                      "to finish, or use another --out")  # fmt: skip
    try:
        return _train_locked(out, config, options, record, variant, threads, pool, progress, device)
    finally:
        lock.close()


def _train_locked(out: Path, config: TinyConfig, options: TrainOptions, record: dict[str, Any], variant: RopeVariant,
                  threads: int, pool: Pool | None, progress: Callable[[int, int, dict[str, float]], None] | None,
                  device: str = "cpu") -> Path:  # fmt: skip
    """`train` once it holds the checkpoint dir's lock."""
    if (out / CONFIG).is_file():
        _check_same(out, record)
        if (out / WEIGHTS).is_file() and not (out / STATE).is_file():
            return out  # done
    else:
        atomic_replace(out / CONFIG, lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    torch.set_num_threads(threads)
    torch.manual_seed(options.seed)
    model = TinyModel(config).to(device)  # initialised on the CPU from the seed, then moved
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    start = 0
    if (out / STATE).is_file():
        state = torch.load(out / STATE, weights_only=True, map_location=device)
        model.load_state_dict(load_file(str(out / WEIGHTS)))
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    _truncate_log(out / LOG, start)
    stream = Stream(config, variant, options.seed, options.lengths, options.batch, pool)
    window: list[tuple[float, float]] = []
    began = time.perf_counter()
    with open(out / LOG, "a") as log:
        for step in range(start, options.steps):
            for group in optimizer.param_groups:
                group["lr"] = _lr(step, options)
            if step < options.vision:
                loss, hits = vision_loss(model, tuple(t.to(device) for t in stream.frames_at(step))), None
            else:
                batch = stream.batch_at(step, _cap(step, options)).to(device)
                loss, hits = loss_and_hits(model, batch, options.frame_loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            window.append((loss.item(), None if hits is None else hits.float().mean().item()))
            done = step + 1
            if done % options.log_every == 0 or done == options.steps:
                answered = [w[1] for w in window if w[1] is not None]  # none in the vision steps
                line = {"step": done, "loss": round(sum(w[0] for w in window) / len(window), 5),
                        "accuracy": round(sum(answered) / len(answered), 4) if answered else None,
                        "seconds": round(time.perf_counter() - began, 2)}  # fmt: skip
                log.write(json.dumps(line) + "\n")
                log.flush()
                window.clear()
            if done % options.checkpoint_every == 0 and done < options.steps:
                _save(out, model, optimizer, done)
            if progress:
                progress(done, options.steps, {"loss": loss.item()})
    _save(out, model, None, options.steps)
    (out / STATE).unlink(missing_ok=True)
    return out


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past `step` (written after the checkpoint a resumed run starts from)."""
    if not path.is_file():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
    path.write_text("".join(ln + "\n" for ln in keep))


def load_model(folder: str | Path) -> TinyModel:
    """A trained model from its checkpoint dir; bad dirs raise NiahError."""
    folder = Path(folder)
    try:
        record = json.loads((folder / CONFIG).read_text())
        model = TinyModel(TinyConfig(**record["model"]))
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except FileNotFoundError as err:
        raise NiahError(f"'{folder}' is not a trained tiny model ({Path(err.filename).name} missing): "
                        "train one with niah train") from None  # fmt: skip
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        why = str(err).splitlines()[0][:120]
        raise NiahError(f"tiny model '{folder}' is corrupt ({why}): train it again") from None
    check_finished(folder)
    return model.eval()


def check_finished(folder: Path) -> None:
    """NiahError unless `folder` holds final weights (no optimizer state left mid-training)."""
    if (folder / STATE).is_file() or not (folder / WEIGHTS).is_file():
        raise NiahError(f"tiny model '{folder}' is not finished training: rerun niah train to complete it")

