"""The tiny video-retrieval model of `niah train`: a small decoder-only transformer whose attention
is rotated by a niah.rope variant, over the hf backend's token layout.

Notation: B batch, L tokens, d = `width`, n_h heads, h_d = d / n_h (head_dim), F = pooled pixel
features per vision token ((3 + 8)·`pool`²), V text vocabulary, A answer vocabulary, K key classes.

Sequence: [<bos> <vision_start>] [T frames × gh×gw vision tokens] [<vision_end> question words].
The answer is read at the last position as logits over the answer vocabulary (option *values*:
colours, shapes, counts, frame parts), scored over the sample's own options — the multiple-choice
rule of the hf backend with the option's text in place of its letter, which spares a tiny model
the letter↔value hop that says nothing about positions.

- frame tokens: a frame is resized to (gw·patch, gh·patch) pixels and each patch pooled to
  pool×pool cells of RGB and named-colour memberships (a fixed, cheap encoder, computed once per
  unique frame), then a small learned vision encoder: two 3×3 convolutions over the frame's cell
  grid, max- and mean-pooled per patch, a linear map, a learned (y, x) embedding of the patch's
  place in its frame, and one bidirectional attention block over the frame's own gh·gw tokens —
  what a VLM's ViT does, so a token that shows the key also carries the value beside it and the
  LLM's positions (the object of study) are the only position signal across frames. A linear
  map alone in place of the convolutions learned the key object's colour for 40 % of needles in
  600 steps, the convolutions for 99 % in 300 (measured on needle frames alone, 64 per step);
- frame heads: two linear heads on every vision token predict the key object its frame shows and
  the option value it shows, trained beside the answer (niah.train.trainer) as a VLM's vision
  encoder is pretrained before it meets the LLM; they never answer;
- positions: `variant.position_ids(layout)` (3, L) and `variant.rotary_tables(..., head_dim)`, so
  any registered or plugin variant drives attention, its allocation mapped to h_d by the registry
  (M-RoPE's [16, 24, 24] of 64 pairs is [4, 6, 6] of 16 pairs at h_d = 32);
- QK-norm (RMS over h_d before the rotation): keeps NoPE-like variants (HoPE's unrotated pairs)
  stable, as in OLMo 2 and Qwen3;
- pre-norm blocks, GELU MLP of 4·d, no dropout (bit-for-bit resumable training).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from niah import answer_attention
from niah.data.dataset import RETRIEVAL_TASKS
from niah.data.draw import COLOURS, KEY_SHAPES
from niah.data.families import KEY_COLOURS, NEEDLE_FAMILIES, Key
from niah.data.multi import ORDER_NEEDLES, distance_question, order_label, order_labels, ordering_question
from niah.rope import Layout, RopeVariant, TextRun, VisionRun, resolve_variant
from niah.rope.frequencies import rotary_dim
from niah.rope.tables import apply_rotary

SPECIALS = ("<pad>", "<unk>", "<bos>", "<vision_start>", "<vision_end>")
PREFIX = ("<bos>", "<vision_start>")
WORD = re.compile(r"[a-z0-9]+|[.?]")


def perceivable_families() -> list[str]:
    """The built-in families a pooled-pixel encoder can see (no digits or words to read)."""
    return [name for name, f in NEEDLE_FAMILIES.items() if f.perceivable]


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@dataclass(frozen=True)
class OrderTask:
    """A multi-needle task a tiny model can learn: `keys` needles named by `question(keys)`; its
    answers are orders of the named keys ('order:201', niah.data.multi.order_label), one answer
    token per order."""

    keys: int
    question: Callable[[list[str]], str]


ORDER_TASKS = {"ordering": OrderTask(ORDER_NEEDLES, ordering_question), "distance": OrderTask(2, distance_question)}
TRAINABLE_TASKS = (*RETRIEVAL_TASKS, *ORDER_TASKS)


def build_vocab(families: list[str], tasks: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(text vocabulary, answer vocabulary) of the question templates and options of `families`,
    and of the order tasks among `tasks` (their questions' words; an answer token per order)."""
    rng = np.random.default_rng(0)
    words: set[str] = set(_words("find the frame with a an")) | set(KEY_SHAPES) | set(KEY_COLOURS)
    orders = [t for t in tasks or [] if t in ORDER_TASKS]
    for task in orders:  # a question's words are its template's and the key words already in
        words |= set(_words(ORDER_TASKS[task].question([f"{c} star" for c in KEY_COLOURS[: ORDER_TASKS[task].keys]])))
    answers: list[str] = []
    for name in families:
        family = NEEDLE_FAMILIES[name]
        words |= set(_words(family.ask))
        for colour in KEY_COLOURS:  # every option a family can draw, by sampling its option rule
            for _ in range(32):
                answers += [o for o in family.options(rng, Key("star", colour)) if o not in answers]
    words |= set(COLOURS)
    answers += [label for task in orders for label in order_labels(ORDER_TASKS[task].keys) if label not in answers]
    return [*SPECIALS, *sorted(words)], sorted(answers)


@dataclass
class TinyConfig:
    """Architecture and input format of a tiny model. Sizes in tokens and pixels."""

    variant: str = "vanilla"
    width: int = 64  # d
    heads: int = 2  # head_dim = width / heads = 32: M-RoPE [4, 6, 6] of 16 pairs
    layers: int = 3  # 2 cannot compose "find the key, read its frame's value" reliably; measured
    grid: tuple[int, int] = (2, 4)  # vision tokens per frame (gh, gw), after any merge
    patch: int = 56  # pixels per vision token side: frames are resized to 224×112
    pool: int = 8  # each patch pooled to pool×pool cells
    conv: int = 16  # channels of the frame encoder's convolutions
    theta: float = 10_000.0
    partial_rotary: float = 1.0  # fraction of each head that rotates (Qwen3.5: 0.25); the rest passes through
    # colour only: the one family a run of minutes learns (shape, count, position stayed at chance
    # for 600 steps each on the needle frame alone; docs/train.md)
    families: list[str] = field(default_factory=lambda: ["colour"])
    tasks: list[str] = field(default_factory=lambda: list(RETRIEVAL_TASKS))  # what it is trained to answer
    vocab: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.grid = tuple(self.grid)
        if not self.vocab or not self.answers:
            self.vocab, self.answers = build_vocab(self.families, self.tasks)
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"width {self.width} must split into {self.heads} heads of even size")
        rotary_dim(self.head_dim, self.partial_rotary)  # raises for a fraction that leaves no even dims

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def rotary_dim(self) -> int:
        """The dims of a head that rotate: ⌊head_dim · partial_rotary⌋ (niah.rope.frequencies.rotary_dim)."""
        return rotary_dim(self.head_dim, self.partial_rotary)

    @property
    def features(self) -> int:
        return (3 + len(COLOURS)) * self.pool * self.pool

    @property
    def tokens_per_frame(self) -> int:
        return self.grid[0] * self.grid[1]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


PALETTE = np.array(list(COLOURS.values()), np.float32)  # (8, 3) RGB of the named colours
COLOUR_SIGMA = 40.0  # RGB distance at which a cell's membership of a named colour falls to e^(-1/2)


def frame_features(frame: np.ndarray, config: TinyConfig) -> np.ndarray:
    """The fixed encoder: (gh·gw, F) float32 for one (H, W, 3) uint8 RGB frame.

    Each patch is pooled to pool×pool cells; a cell gives its RGB (scaled to [−0.5, 0.5]) and its
    membership of each named colour, exp(−d²/2σ²) of its RGB distance d to it — the colour names a
    pretrained vision encoder would know, so the tiny model spends its budget on retrieval.
    Layout per token: (pool·pool cells) × (3 RGB + 8 memberships), cell-major."""
    gh, gw = config.grid
    size = (gw * config.pool, gh * config.pool)
    if frame.shape[:2] != (gh * config.patch, gw * config.patch):
        frame = cv2.resize(frame, (gw * config.patch, gh * config.patch), interpolation=cv2.INTER_AREA)
    pooled = cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)  # (gh·pool, gw·pool, 3)
    distance = ((pooled[..., None, :] - PALETTE) ** 2).sum(-1)  # (gh·pool, gw·pool, 8)
    cells = np.concatenate([pooled / 255.0 - 0.5, np.exp(-distance / (2 * COLOUR_SIGMA**2))], axis=-1)
    p, c = config.pool, cells.shape[-1]
    return cells.reshape(gh, p, gw, p, c).transpose(0, 2, 1, 3, 4).reshape(gh * gw, p * p * c).astype(np.float32)


class Tokenizer:
    """Words of the question templates → ids; unknown words → <unk>."""

    def __init__(self, config: TinyConfig):
        self.ids = {w: i for i, w in enumerate(config.vocab)}
        self.answers = {a: i for i, a in enumerate(config.answers)}

    def prefix(self) -> list[int]:
        return [self.ids[w] for w in PREFIX]

    def question(self, text: str) -> list[int]:
        """<vision_end> followed by the question's words."""
        unk = self.ids["<unk>"]
        return [self.ids["<vision_end>"], *(self.ids.get(w, unk) for w in _words(text))]

    def options(self, options: list[str], question: str = "") -> list[int] | None:
        """Answer-vocabulary ids of the options, or None when one is outside the vocabulary; an
        order of the question's named keys is its order label's id (niah.data.multi.order_label)."""
        ids = [self.answers.get(o, self.answers.get(order_label(question, o) or "")) for o in options]
        return None if any(i is None for i in ids) else ids


def layout(config: TinyConfig, frames: int, question_tokens: int, seconds: float = 1.0) -> Layout:
    """The token layout of a sample: prefix text, one video run, the question text."""
    gh, gw = config.grid
    return Layout((TextRun(len(PREFIX)), VisionRun("video", frames, gh, gw, seconds), TextRun(question_tokens)))


class Block(nn.Module):
    """Pre-norm attention (QK-norm, rotary from the variant unless `rotate` is False: a NoPE layer,
    `+nope`) + GELU MLP; block `index` reports its last query to an armed recorder of attention at
    the answer (niah.answer_attention; batch 1)."""

    def __init__(self, c: TinyConfig, index: int = 0, rotate: bool = True):
        super().__init__()
        self.index, self.rotate = index, rotate
        self.heads, self.head_dim = c.heads, c.head_dim
        self.norm1, self.norm2 = nn.RMSNorm(c.width), nn.RMSNorm(c.width)
        self.qkv = nn.Linear(c.width, 3 * c.width, bias=False)
        self.q_norm, self.k_norm = nn.RMSNorm(c.head_dim), nn.RMSNorm(c.head_dim)
        self.out = nn.Linear(c.width, c.width, bias=False)
        self.mlp = nn.Sequential(nn.Linear(c.width, 4 * c.width), nn.GELU(), nn.Linear(4 * c.width, c.width))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, self.head_dim).unbind(2)  # (B, L, n_h, h_d)
        q, k = self.q_norm(q).transpose(1, 2), self.k_norm(k).transpose(1, 2)  # (B, n_h, L, h_d)
        if self.rotate:
            cos, sin = cos[:, None], sin[:, None]  # (B, 1, L, r): r = rotary_dim, the first r dims rotate
            r = cos.shape[-1]
            q_rot, k_rot = apply_rotary(q[..., :r], k[..., :r], cos, sin)
            q, k = torch.cat((q_rot, q[..., r:]), -1), torch.cat((k_rot, k[..., r:]), -1)
        if (recorder := answer_attention.active()) is not None:
            recorder.observe(self.index, q[0, :, -1], k[0], self.head_dim**-0.5)
        att = F.scaled_dot_product_attention(q, k, v.transpose(1, 2), is_causal=True)  # (B, n_h, L, h_d)
        x = x + self.out(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class FrameEncoder(nn.Module):
    """Pooled cells of frames (n, gh·gw, F) → tokens (n, gh·gw, d): two 3×3 convolutions over the
    frame's whole cell grid (shape detectors that work wherever an object sits, even across a patch
    border), max-pooled per patch, a linear map + place embedding, then one bidirectional
    attention block within each frame."""

    def __init__(self, c: TinyConfig):
        super().__init__()
        self.heads, self.grid, self.pool = c.heads, c.grid, c.pool
        channels = c.features // (c.pool * c.pool)
        self.conv = nn.Sequential(nn.Conv2d(channels, c.conv, 3, padding=1), nn.GELU(),
                                  nn.Conv2d(c.conv, c.conv, 3, padding=1), nn.GELU())  # fmt: skip
        self.proj = nn.Linear(2 * c.conv, c.width)
        self.place = nn.Parameter(torch.zeros(c.tokens_per_frame, c.width))
        self.norm1, self.norm2 = nn.LayerNorm(c.width), nn.LayerNorm(c.width)
        self.qkv = nn.Linear(c.width, 3 * c.width)
        self.out = nn.Linear(c.width, c.width)
        self.mlp = nn.Sequential(nn.Linear(c.width, 2 * c.width), nn.GELU(), nn.Linear(2 * c.width, c.width))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        n, t, _ = patches.shape
        (gh, gw), p = self.grid, self.pool
        cells = patches.view(n, gh, gw, p, p, -1).permute(0, 5, 1, 3, 2, 4).reshape(n, -1, gh * p, gw * p)
        maps = self.conv(cells)  # (n, conv, gh·p, gw·p)
        per_patch = maps.view(n, -1, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).flatten(4)  # (n, gh, gw, conv, p·p)
        pooled = torch.cat([per_patch.amax(-1), per_patch.mean(-1)], -1).view(n, t, -1)  # (n, gh·gw, 2·conv)
        x = self.proj(pooled) + self.place  # (n, t, d)
        q, k, v = self.qkv(self.norm1(x)).view(n, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # (n, n_h, t, h_d)
        x = x + self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, t, -1))
        return x + self.mlp(self.norm2(x))


def key_classes() -> list[str]:
    """What a frame's key object can be, for the frame heads: 'none', then every shape × colour."""
    return ["none", *(f"{colour} {shape}" for shape in KEY_SHAPES for colour in KEY_COLOURS)]


class TinyModel(nn.Module):
    """Embeds text ids and frame features, runs the blocks, reads answer logits at `last`.

    Two frame heads read every vision token: which key object its frame shows and which option
    value (so each token of a frame carries both, as a ViT's tokens carry their image's context).
    They are trained alongside (an auxiliary loss standing in for the
    pretraining of a VLM's vision encoder, see niah.train.trainer) and never used to answer."""

    def __init__(self, config: TinyConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(len(config.vocab), config.width)
        self.vision = FrameEncoder(config)
        rotates = resolve_variant(config.variant).layer_rotation(config.layers)  # +nope: some layers do not
        self.blocks = nn.ModuleList(Block(config, i, rotates[i]) for i in range(config.layers))
        self.norm = nn.RMSNorm(config.width)
        self.head = nn.Linear(config.width, len(config.answers))
        self.key_head = nn.Linear(config.width, len(key_classes()))
        self.value_head = nn.Linear(config.width, len(config.answers))

    def forward(self, ids: torch.Tensor, pixels: torch.Tensor, is_vision: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor, last: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """Answer logits (B, A).

        ids (B, L) text ids (anything at vision slots); pixels (B, L, F) features (zeros at text
        slots); is_vision (B, L) bool; cos, sin (B, L, h_d); last (B,) index of each sample's last
        real token (samples are right-padded)."""
        return self.answer_and_frames(ids, pixels, is_vision, cos, sin, last)[0]

    def answer_and_frames(self, ids: torch.Tensor, pixels: torch.Tensor, is_vision: torch.Tensor, cos: torch.Tensor,
                          sin: torch.Tensor, last: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """Answer logits (B, A), and the frame heads' key logits (n, gh·gw, K) and value logits
        (n, gh·gw, A) of the batch's n frames in order (sample-major)."""
        x = self.embed(ids)  # (B, L, d)
        frames = pixels[is_vision].view(-1, self.config.tokens_per_frame, self.config.features)  # (n, gh·gw, F)
        tokens = self.vision(frames)  # (n, gh·gw, d)
        x = x.masked_scatter(is_vision[..., None], tokens)
        for block in self.blocks:
            x = block(x, cos, sin)
        answer = self.head(self.norm(x[torch.arange(len(last)), last]))  # (B, A)
        return answer, *self.frame_heads(tokens)

    def frame_heads(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Key logits (n, gh·gw, K) and value logits (n, gh·gw, A) of vision tokens (n, gh·gw, d)."""
        return self.key_head(tokens), self.value_head(tokens)


def rotary(variant: RopeVariant, config: TinyConfig, lay: Layout) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (L, r) of the variant's positions for a layout, r = config.rotary_dim (head_dim
    without partial rotary), float32 from float64 positions."""
    ids = variant.position_ids(lay).to(torch.float64)  # (N, L)
    return variant.rotary_tables(ids, config.rotary_dim, config.theta)
