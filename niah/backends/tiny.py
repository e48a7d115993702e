"""`--model tiny:DIR`: the tiny models trained by `niah train`, one per (variant, seed).

DIR is a folder of checkpoint dirs (as `niah train --out DIR` writes) or one checkpoint dir.
`tiny:DIR` evaluates the lowest seed trained; `tiny:DIR,seed=K` seed K, so each seed is one run
dir and `niah plot` over several seed runs shows mean ± spread (records carry `model_seed`).
Each sample is answered by the model trained with the sample's variant; a variant with no model
is refused before the run starts. Needles the model cannot perceive (families that need reading
digits or words, or options outside its answer vocabulary) are skipped with one line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from niah.answer_attention import Recorder, recording, token_frames
from niah.backends.base import Backend, Sample, SampleResult
from niah.data.dataset import Dataset, sha256_file
from niah.data.needles import LETTERS
from niah.errors import NiahError
from niah.rope import RopeVariant
from niah.tasks import Outcome, Query
from niah.train.data import Inputs, collate
from niah.train.model import TinyConfig, TinyModel, Tokenizer, frame_features, layout, rotary
from niah.train.trainer import CONFIG, WEIGHTS, check_finished, load_model


def find_checkpoints(folder: Path) -> dict[tuple[str, int], tuple[Path, TinyConfig]]:
    """(variant spec, seed) → (checkpoint dir, its model config), for a dir of checkpoints or one."""
    dirs = [folder] if (folder / CONFIG).is_file() else sorted(p.parent for p in folder.glob(f"*/{CONFIG}"))
    found = {}
    for d in dirs:
        try:
            record = json.loads((d / CONFIG).read_text())
            found[(record["model"]["variant"], int(record["train"]["seed"]))] = (d, TinyConfig(**record["model"]))
        except (OSError, ValueError, KeyError, TypeError):
            raise NiahError(f"'{d / CONFIG}' is not a tiny model config: train again with niah train") from None
    return found


class TinyBackend(Backend):
    """Answers with the tiny model of the sample's variant: its metric `value_choice`, the argmax
    over the option values (its answer vocabulary has values, not letters)."""

    def __init__(self, folder: str, seed: int | None = None):
        path = Path(folder)
        if not path.is_dir():
            raise NiahError(f"tiny model dir '{folder}' does not exist: train models with niah train --out {folder}")
        checkpoints = find_checkpoints(path)
        if not checkpoints:
            raise NiahError(f"'{folder}' holds no tiny models (no */{CONFIG}): "
                            f"train some with niah train --out {folder}")  # fmt: skip
        seeds = sorted({s for _, s in checkpoints})
        self.seed = seeds[0] if seed is None else seed
        if self.seed not in seeds:
            raise NiahError(f"'{folder}' has no models of seed {self.seed}: it has seeds {seeds}")
        self.path = path.resolve()
        self.checkpoints = {v: d for (v, s), (d, _) in checkpoints.items() if s == self.seed}
        self.input = next(c for (_, s), (_, c) in checkpoints.items() if s == self.seed)  # vocab, families, grid
        self.tokenizer = Tokenizer(self.input)
        self.name = "tiny"
        self.marks = {"model_seed": self.seed}
        self._models: dict[str, TinyModel] = {}
        self._used: set[str] = set()  # the variants a run uses, set by check_variants
        self._features: dict[str, np.ndarray] = {}
        self._dataset: Path | None = None

    def config(self) -> dict[str, Any]:
        """The folder, the seed and the weights' sha256 of the models the run uses (check_variants)."""
        used = sorted(self._used)
        return {"models": str(self.path), "seed": self.seed,
                "weights": {v: sha256_file(self.checkpoints[v] / WEIGHTS) for v in used}}  # fmt: skip

    def check_variants(self, variants: Sequence[RopeVariant]) -> None:
        for v in variants:
            v.require_shared_table("the tiny model")
            v.require_layer_effect(self.input.layers, "the tiny model")
        missing = [v.spec for v in variants if v.spec not in self.checkpoints]
        if missing:
            raise NiahError(f"no tiny model of {', '.join(missing)} (seed {self.seed}) in '{self.path}'; "
                            f"trained: {', '.join(sorted(self.checkpoints))}")  # fmt: skip
        for v in variants:  # only the models this run uses: others may still be training
            check_finished(self.checkpoints[v.spec])
        self._used = {v.spec for v in variants}

    def model(self, variant: RopeVariant) -> TinyModel:
        if variant.spec not in self._models:
            self._models[variant.spec] = load_model(self.checkpoints[variant.spec])
        return self._models[variant.spec]

    def record_attention(self, mode: str) -> None:
        """Every block reports its last query (niah.train.model.Block)."""
        self.attention = mode

    def skip_reason(self, query: Query) -> str | None:
        if query.family not in self.input.families and query.family != "user":
            return f"family {query.family} is not one it was trained to see ({', '.join(self.input.families)})"
        if query.is_open:
            return "asks an open question (a tiny model chooses among options)"
        if self.tokenizer.options(list(query.options), query.question) is None:
            return "has options outside the answer vocabulary"
        return None

    def estimate_tokens(self, dataset: Dataset, sample: Sample) -> int:
        question = len(self.tokenizer.question(sample.query.question))
        return 2 + len(sample.frames(dataset)) * self.input.tokens_per_frame + question

    def _load_features(self, dataset: Dataset, samples: Sequence[Sample]) -> None:
        """Pooled features of every frame the samples use (every model of a seed shares the input
        format): haystack frames decoded once, in order."""
        if self._dataset != dataset.path:
            self._features.clear()
            self._dataset = dataset.path
        longest = max((s.cell.length for s in samples), default=0)
        if f"h{longest - 1}" not in self._features and longest:
            for i, frame in enumerate(dataset.haystack_frames(longest)):
                self._features.setdefault(f"h{i}", frame_features(frame, self.input))
        for s in samples:
            for ref in s.frames(dataset):
                if ref.kind != "haystack" and ref.key not in self._features:
                    self._features[ref.key] = frame_features(dataset.image(ref), self.input)

    def run(self, samples: Sequence[Sample], dataset: Dataset) -> Iterator[SampleResult]:
        self._load_features(dataset, samples)
        seconds = 1.0 / dataset.options["fps"]
        for sample in samples:
            start = time.perf_counter()
            model = self.model(sample.variant)
            query = sample.query
            refs = sample.frames(dataset)
            question = self.tokenizer.question(query.question)
            cos, sin = rotary(sample.variant, self.input, layout(self.input, len(refs), len(question), seconds))
            inputs = Inputs(np.concatenate([self._features[r.key] for r in refs]), question, cos, sin,
                            self.tokenizer.options(list(query.options), query.question), query.answer_index)
            batch = collate([inputs], self.tokenizer.prefix(), self.input.features)
            recorder = self._recorder(len(refs), batch.ids.shape[1]) if self.attention else None
            with torch.inference_mode(), recording(recorder):
                logits = model(batch.ids, batch.pixels, batch.is_vision, batch.cos, batch.sin, batch.last)[0]
            logp = torch.log_softmax(logits[batch.options[0]], 0)  # over the sample's options
            choice = int(logp.argmax())
            scores = {"option_logprobs": [round(float(x), 5) for x in logp]}
            outcome = Outcome(LETTERS[choice], choice == query.answer_index)
            yield SampleResult(sample, {"value_choice": outcome}, scores, time.perf_counter() - start,
                               attention=recorder.result() if recorder else None)  # fmt: skip

    def _recorder(self, frames: int, tokens: int) -> Recorder:
        """A recorder for one sample of `frames` frames in `tokens` tokens, laid out as collate lays
        it: the prefix, each frame's tokens_per_frame tokens, then the question."""
        prefix, per = len(self.tokenizer.prefix()), self.input.tokens_per_frame
        return Recorder(*token_frames([(prefix, False), *[(per, True)] * frames,
                                       (tokens - prefix - per * frames, False)]))  # fmt: skip


def shipped_models() -> dict[str, Path]:
    """The trained model sets shipped in models/ (installed as niah.models): name → folder."""
    root = resources.files("niah.models")
    return {p.name: Path(str(p)) for p in root.iterdir() if p.is_dir() and any(p.glob(f"*/{CONFIG}"))}


def models_folder(folder: str) -> str:
    """`@NAME`: the shipped set NAME, whatever folders exist here; otherwise a folder as given, or a
    shipped set's folder by name (`demo`) when no such folder exists here."""
    shipped = shipped_models()
    if folder.startswith("@"):
        if folder[1:] not in shipped:
            raise NiahError(f"no shipped tiny models named '{folder[1:]}': the shipped sets are "
                            f"{', '.join('@' + n for n in sorted(shipped))}")  # fmt: skip
        return str(shipped[folder[1:]])
    if folder and not Path(folder).exists() and folder in shipped:
        return str(shipped[folder])
    return folder


def trained_variants(arg: str) -> list[str]:
    """The variants `tiny:ARG` has models of (its lowest seed), in registry order."""
    from niah.rope import VARIANTS

    backend = make_tiny_backend(arg)
    rank = {name: i for i, name in enumerate(VARIANTS)}
    return sorted(backend.checkpoints, key=lambda spec: (rank.get(spec.split(":")[0], len(rank)), spec))


def make_tiny_backend(arg: str, seed: int = 0, **options: Any) -> TinyBackend:
    """`tiny:DIR` or `tiny:DIR,seed=K` (the run's --seed does not pick the model); `tiny:@demo`
    names a shipped set whatever folders exist here (`tiny:demo` too, when no ./demo exists)."""
    folder, _, rest = arg.partition(",")
    folder = models_folder(folder)
    if not folder:
        raise NiahError("give the models' dir: --model tiny:DIR (as written by niah train --out DIR)")
    model_seed = None
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key != "seed" or not value.isdigit():
            raise NiahError(f"unknown tiny option '{item}': the only option is seed=K, e.g. tiny:{folder},seed=1")
        model_seed = int(value)
    if options:
        raise NiahError(f"options {', '.join(sorted(options))} are for hf models, not tiny ones")
    return TinyBackend(folder, model_seed)
