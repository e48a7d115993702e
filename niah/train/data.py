"""The training stream of `niah train`: endless seeded batches of V-NIAH / V-NIAH-D cells.

Frames come from niah's own generator at the model's input size: a pool of consecutive synthetic
haystack frames rendered and encoded once, and needles drawn fresh for every sample by the
built-in families (both distractor kinds) on pool frames — a pool of needles would be memorised
(measured: 0.58 training accuracy, chance on new needles). Batch b uses the generator
numpy.random.default_rng([seed space, 2, b]) (the first vision steps, which train the frame
encoder alone on needle images: [seed space, 3, b]): a length from `lengths` (frames), and per sample a
needle, a task (half V-NIAH, half V-NIAH-D), a depth, a distractor period (at least one
look-alike in V-NIAH-D once the haystack has 2 frames) and a run of consecutive haystack frames. Cells are built by
niah.data.grid.make_cell, as datasets are.

Seeds: a dataset's seed is below 2**32 (niah generate refuses more), and the stream's haystack
and needles use seeds from TRAIN_SEED_BASE = 2**32 up, so training never sees an evaluation
dataset's frames or needles, by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from niah.data.dataset import RETRIEVAL_TASKS, cell_sequence
from niah.data.families import DISTRACTOR_KINDS, NEEDLE_FAMILIES, render
from niah.data.grid import make_cell
from niah.data.multi import group_slots, order_labels
from niah.data.needles import Needle
from niah.data.synthetic import SyntheticHaystack
from niah.rope import RopeVariant
from niah.train.model import ORDER_TASKS, TinyConfig, Tokenizer, frame_features, key_classes, layout, rotary

TRAIN_SEED_BASE = 2**32  # datasets' seeds lie below: the training stream never meets them
TRAIN_LOOKALIKES = 7  # per needle: round 0 (3 lures) and round 1 (4): enough for 4-12 frames at period >= 2


@dataclass
class Pool:
    """The haystack a training run draws from: `frames` (N, H, W, 3) uint8 consecutive synthetic
    haystack frames (also the needles' backgrounds) and their `features` (N, gh·gw, F)."""

    frames: np.ndarray
    features: np.ndarray


POOL_FRAMES = 1200  # consecutive synthetic frames a training run draws its haystacks from


def build_pool(config: TinyConfig, seed: int, haystack_frames: int = POOL_FRAMES) -> Pool:
    """Render and encode the haystack a training run draws from (seconds on 2 cores)."""
    gh, gw = config.grid
    source = SyntheticHaystack(TRAIN_SEED_BASE + seed, gw * config.patch, gh * config.patch)
    frames = np.stack(list(source.frames(haystack_frames)))
    return Pool(frames, np.stack([frame_features(f, config) for f in frames]))


@dataclass
class TrainNeedle:
    """A freshly drawn needle: features (1 + look-alikes drawn, gh·gw, F) of the needle and its
    look-alikes, question ids, option ids (answer vocabulary), answer index, the option each
    look-alike shows (`lures`; the answer for a decoy), and the frame heads' labels of those
    images: `keys` (key_classes index of the key object drawn, 0 for none) and `values`
    (answer-vocabulary id of the option shown)."""

    features: np.ndarray
    question: list[int]
    options: list[int]
    answer: int
    lures: list[int]
    keys: list[int]
    values: list[int]


def draw_needle(config: TinyConfig, tok: Tokenizer, pool: Pool, rng: np.random.Generator,
                lookalikes: int = TRAIN_LOOKALIKES) -> TrainNeedle:  # fmt: skip
    """A new needle of a random trained family and distractor kind with `lookalikes` look-alike
    images, drawn on pool frames (a needle seen once cannot be memorised: its answer must be read
    through the question)."""
    family = NEEDLE_FAMILIES[config.families[int(rng.integers(len(config.families)))]]
    kind = DISTRACTOR_KINDS[int(rng.integers(len(DISTRACTOR_KINDS)))]
    backgrounds = rng.integers(len(pool.frames), size=1 + lookalikes)
    height, width = pool.frames.shape[1:3]
    r = render(family, rng, int(rng.integers(4)), kind, lambda j: pool.frames[backgrounds[j]], width, height,
               count=lookalikes)
    question = Needle("", family.name, r.key.find, family.ask, r.options, r.answer, r.image).question
    options = tok.options(r.options)
    if options is None:
        raise ValueError(f"family {family.name} draws options outside the answer vocabulary: {r.options}")
    features = np.stack([frame_features(img, config) for img in [r.image, *r.distractors]])
    classes = {name: i for i, name in enumerate(key_classes())}
    keys = [next((classes[f"{d.colour} {d.kind}"] for d in drawn if f"{d.colour} {d.kind}" in classes), 0)
            for drawn in [r.drawn, *r.distractor_drawn]]  # fmt: skip
    values = [options[r.answer], *(options[shown] for shown in r.shows)]
    return TrainNeedle(features, tok.question(question), options, r.answer, r.shows, keys, values)


@dataclass
class Inputs:
    """One sample before batching: frame features (n·gh·gw, F), question ids, its rotary tables
    cos, sin (L, h_d) for the whole prompt, option ids (answer vocabulary) and the right option;
    in training also the frame heads' labels of its n frames (key class, value id; IGNORE where
    a frame shows no value)."""

    frames: np.ndarray
    question: list[int]
    cos: torch.Tensor
    sin: torch.Tensor
    options: list[int]
    target: int
    frame_keys: list[int] | None = None
    frame_values: list[int] | None = None


@dataclass
class Batch:
    """Model inputs (see TinyModel.forward) plus `options` (B, 4) answer ids, `target` (B,)
    the index of the right option, and the frame heads' labels (n,) of the batch's n frames
    (None outside training)."""

    ids: torch.Tensor
    pixels: torch.Tensor
    is_vision: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor
    last: torch.Tensor
    options: torch.Tensor
    target: torch.Tensor
    frame_keys: torch.Tensor | None = None
    frame_values: torch.Tensor | None = None

    def to(self, device: str) -> Batch:
        """This batch with every tensor on `device`."""
        return Batch(**{f.name: None if (t := getattr(self, f.name)) is None else t.to(device) for f in fields(self)})


IGNORE = -100  # label of a frame head where there is nothing to predict (F.cross_entropy's ignore_index)


class Stream:
    """Batch b of a (config, variant, seed) is a pure function of b: resuming at step s reads the
    same batches as an uninterrupted run."""

    def __init__(self, config: TinyConfig, variant: RopeVariant, seed: int, lengths: list[int], batch: int,
                 pool: Pool | None = None):  # fmt: skip
        self.config, self.variant, self.seed, self.lengths, self.batch = config, variant, seed, lengths, batch
        self.pool = pool or build_pool(config, seed)
        if max(lengths) + 1 > len(self.pool.features):
            raise ValueError(f"training lengths up to {max(lengths)} frames need a longer haystack pool")
        self.tokenizer = Tokenizer(config)
        self._tables: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def tables(self, frames: int, question: int) -> tuple[torch.Tensor, torch.Tensor]:
        key = (frames, question)
        if key not in self._tables:
            self._tables[key] = rotary(self.variant, self.config, layout(self.config, frames, question))
        return self._tables[key]

    def batch_at(self, step: int, cap: int | None = None) -> Batch:
        """Batch `step`; its haystack length is drawn from `lengths` and capped at `cap` frames
        (the curriculum: 0 = the needle and its distractors alone)."""
        rng = np.random.default_rng([TRAIN_SEED_BASE + self.seed, 2, step])
        length = int(rng.choice(self.lengths))
        length = length if cap is None else min(length, cap)
        kinds = self.kinds
        if kinds != ["retrieval"]:  # a model of retrieval alone draws exactly the stream it always did
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind != "retrieval":
                return collate([self._order_sample(kind, length, rng) for _ in range(self.batch)],
                               self.tokenizer.prefix(), self.config.features)  # fmt: skip
        samples = []
        for _ in range(self.batch):
            needle = draw_needle(self.config, self.tokenizer, self.pool, rng)
            depth = int(rng.integers(0, 101))
            lures: list[int | None] = []
            if rng.random() < 0.5:  # V-NIAH-D: look-alikes at needle ± k·period
                lures = list(needle.lures)
            period = int(rng.integers(2, max(3, length // 2 + 1)))  # at least one look-alike from 2 frames up
            cell = make_cell(length, depth, "n", needle.answer, lures, period, "periodic", rng)
            start = int(rng.integers(0, len(self.pool.features) - length))
            samples.append(self._sample(cell, needle, start))
        return collate(samples, self.tokenizer.prefix(), self.config.features)

    @property
    def kinds(self) -> list[str]:
        """What a batch can be: "retrieval" (half V-NIAH, half V-NIAH-D) and each order task trained."""
        retrieval = ["retrieval"] if set(RETRIEVAL_TASKS) & set(self.config.tasks) else []
        return retrieval + [t for t in self.config.tasks if t in ORDER_TASKS]

    def _order_sample(self, task: str, length: int, rng: np.random.Generator) -> Inputs:
        """An ordering or distance sample: fresh needles with distinct keys at drawn slots (half the
        time the datasets' group of GROUP_SPAN at a drawn depth, niah.data.multi.group_slots, else
        anywhere), the question naming them in a drawn order, every order label as an option, the
        true order the target."""
        count, needles, keys = ORDER_TASKS[task].keys, [], []
        while len(needles) < count:
            needle = draw_needle(self.config, self.tokenizer, self.pool, rng, lookalikes=0)  # needles alone
            if needle.keys[0] not in keys:
                needles.append(needle)
                keys.append(needle.keys[0])
        if length >= count - 1 and rng.random() < 0.5:  # the datasets' layout: a group at a drawn depth
            slots = group_slots(length, int(rng.integers(0, 101)), count)
        else:  # anywhere: any spacing, as far apart as the whole haystack
            slots = sorted(int(k) for k in rng.choice(length + 1, size=count, replace=length + 1 < count))
        shown = [int(k) for k in rng.permutation(count)]  # shown[j]: the needle at the j-th slot
        names = [key_classes()[keys[j]] for j in range(count)]  # needle j is named j-th
        question = self.tokenizer.question(ORDER_TASKS[task].question(names))
        start = int(rng.integers(0, len(self.pool.features) - length))
        frames, frame_keys, values = [], [], []
        for k in range(length + 1):
            for slot, j in zip(slots, shown, strict=True):
                if slot == k:
                    frames.append(needles[j].features[0])
                    frame_keys.append(needles[j].keys[0])
                    values.append(needles[j].values[0])
            if k < length:
                frames.append(self.pool.features[start + k])
                frame_keys.append(0)
                values.append(IGNORE)
        labels = order_labels(count)
        target = labels.index("order:" + "".join(map(str, shown)))
        cos, sin = self.tables(len(frames), len(question))
        options = [self.tokenizer.answers[label] for label in labels]
        return Inputs(np.concatenate(frames), question, cos, sin, options, target, frame_keys, values)

    def frames_at(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The vision steps' batch `step`: `batch` fresh needles' n = 1 + TRAIN_LOOKALIKES images each,
        as (features (n·batch, gh·gw, F), key labels (n·batch,), value labels (n·batch,))."""
        rng = np.random.default_rng([TRAIN_SEED_BASE + self.seed, 3, step])
        needles = [draw_needle(self.config, self.tokenizer, self.pool, rng) for _ in range(self.batch)]
        features = torch.from_numpy(np.concatenate([n.features for n in needles]))
        return (features, torch.tensor([k for n in needles for k in n.keys]),
                torch.tensor([v for n in needles for v in n.values]))  # fmt: skip

    def _sample(self, cell, needle: TrainNeedle, start: int) -> Inputs:
        frames, keys, values = [], [], []
        for r in cell_sequence(cell):
            image = 0 if r.kind == "needle" else 1 + r.index if r.kind == "distractor" else None
            frames.append(self.pool.features[start + r.index] if image is None else needle.features[image])
            keys.append(0 if image is None else needle.keys[image])  # haystack frames never show a key
            values.append(IGNORE if image is None else needle.values[image])
        cos, sin = self.tables(len(frames), len(needle.question))
        return Inputs(np.concatenate(frames), needle.question, cos, sin, needle.options, needle.answer, keys, values)


def collate(samples: list[Inputs], prefix: list[int], features: int) -> Batch:
    """Right-pad samples, each `prefix` + frames + question, into a Batch."""
    lengths = [len(prefix) + len(s.frames) + len(s.question) for s in samples]
    b, n = len(samples), max(lengths)
    head_dim = samples[0].cos.shape[-1]
    ids = torch.zeros(b, n, dtype=torch.long)
    pixels = torch.zeros(b, n, features)
    is_vision = torch.zeros(b, n, dtype=torch.bool)
    cos, sin = torch.ones(b, n, head_dim), torch.zeros(b, n, head_dim)
    p = len(prefix)
    for i, s in enumerate(samples):
        v, q = len(s.frames), len(s.question)
        ids[i, :p] = torch.tensor(prefix)
        ids[i, p + v : p + v + q] = torch.tensor(s.question)
        pixels[i, p : p + v] = torch.from_numpy(s.frames)
        is_vision[i, p : p + v] = True
        cos[i, : lengths[i]], sin[i, : lengths[i]] = s.cos, s.sin
    options, target = torch.tensor([s.options for s in samples]), torch.tensor([s.target for s in samples])
    labelled = all(s.frame_keys is not None and s.frame_values is not None for s in samples)
    keys = torch.tensor([k for s in samples for k in s.frame_keys]) if labelled else None
    values = torch.tensor([v for s in samples for v in s.frame_values]) if labelled else None
    return Batch(ids, pixels, is_vision, cos, sin, torch.tensor(lengths) - 1, options, target, keys, values)
