"""The probe: a training-free attention probe that shows what a RoPE variant alone does to retrieval.

It is a probe, not a model: no weights, no language, one query token. Equations and what it can
and cannot show: docs/probe.md. In short, per head h (notation: P = head_dim/2 pairs, pair i
rotates dims i and i + P, so a pair is one complex number):

- content: each frame is cut into the variant's token grid (28 px per token, as Qwen2-VL after
  the 2×2 merge); a token's pixels x (7×7×3, centred) go through a fixed seeded Gaussian map
  W_h ∈ R^{147×2P} to a unit complex vector u ∈ C^P;
- frequency profile: semantic content lives in the low-frequency pairs (Barbero et al., "Round
  and Round We Go! What makes Rotary Positional Encodings useful?", arXiv 2410.06205): keys and
  the query are k = a ⊙ u, q = a ⊙ u_q with a_i² = `semantic`/(P/4) on the lowest quarter of
  pairs and (1 − `semantic`)/(3P/4) elsewhere (default `semantic` = 0.75);
- query: u_q = normalised mean of the vectors of a *template* of the key — what the find clause
  names ("a red star"), drawn from the question's words alone: the first colour word and shape
  word of the question, the shape in that colour on a neutral grey frame (grey maps to about
  zero), the tokens over it averaged. Never the needle frame's own pixels, so the probe knows no
  more than the question tells; a question naming no colour and shape is skipped. A near
  distractor shares the key's shape in another colour, so it matches the query partly. The query
  sits at the last token of the question text after the video;
- rotation: both by the variant's rotary tables at the positions of the cell's layout,
  s_j = Re Σ_i q_i conj(k_j,i) e^{i(φ_q,i − φ_j,i)} / Σ_i a_i² |u_q,i|²;
- retrieval: attention a_j = softmax_j(β s_j) over the vision tokens (β = 16), mass per frame
  summed over its tokens and over heads; the frame with the largest mass is retrieved. Its
  option is the prediction, recorded under the metric `probe` (never a model's accuracy): the
  needle's answer, a look-alike's option (a lure: wrong; a decoy: right by luck), or "-" for a
  haystack frame (wrong).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import torch

from niah.backends.base import Backend, Sample, SampleResult
from niah.data.dataset import Dataset, FrameRef
from niah.data.draw import COLOURS, KEY_SHAPES, VALUE_SHAPES, draw_shape
from niah.data.families import KEY_RADIUS
from niah.errors import NiahError
from niah.rope import Layout, RopeVariant, TextRun, VisionRun
from niah.tasks import Outcome, Query

TOKEN_PX = 28  # Qwen2-VL: 14-px patches, 2×2 merge → one LLM token per 28×28 pixels
PATCH = 7  # each token's pixels are pooled to 7×7×3 before the feature map
PREFIX_TOKENS = 14  # system prompt + "<|vision_start|>" before the video
QUESTION_TOKENS = 24  # "<|vision_end|>" + question + options; the query is the last one
CHUNK_FRAMES = 128  # frames scored at once (bounds memory on 3000-frame haystacks)


def box_tokens(box: list[int] | tuple[int, ...], frame_size: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
    """(H·W,) bool: the tokens of an (H, W) token grid over a frame of `frame_size` (width, height)
    pixels whose cells overlap `box` (x0, y0, x1, y1, pixels, end-exclusive)."""
    gh, gw = grid
    width, height = frame_size
    x0, y0, x1, y1 = box
    xs = torch.arange(gw + 1) * width / gw  # cell edges in pixels
    ys = torch.arange(gh + 1) * height / gh
    cols = (xs[1:] > x0) & (xs[:-1] < x1)  # (W,)
    rows = (ys[1:] > y0) & (ys[:-1] < y1)  # (H,)
    return (rows[:, None] & cols[None, :]).reshape(-1)


TEMPLATE_GREY = 128  # the template's background: centred pixels of about 0, so it adds nothing to the query


def named_key(question: str) -> tuple[str, str] | None:
    """(shape, colour) the question's words name: its first colour word and its first key-shape word
    (a value-shape word when it names none), e.g. ("star", "red"); None when it names no colour
    or no shape."""
    words = re.findall(r"[a-z]+", question.lower())
    colour = next((w for w in words if w in COLOURS), None)
    shape = next((w for w in words if w in KEY_SHAPES), None) or next((w for w in words if w in VALUE_SHAPES), None)
    return None if colour is None or shape is None else (shape, colour)


def key_template(shape: str, colour: str, frame_size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The probe's picture of what the find clause names: `shape` in `colour` at the built-in
    needles' key size (KEY_RADIUS of the frame height), centred on a grey frame of `frame_size`
    (width, height); (H, W, 3) uint8 RGB and the shape's box."""
    width, height = frame_size
    image = np.full((height, width, 3), TEMPLATE_GREY, np.uint8)
    drawn = draw_shape(image, shape, (width / 2, height / 2), KEY_RADIUS * height, colour)
    return image, drawn.box


class ProbeBackend(Backend):
    """The attention probe. Options: heads, head_dim, theta, semantic, beta, seed."""

    def __init__(self, heads: int = 4, head_dim: int = 128, theta: float = 1_000_000.0, semantic: float = 0.75,
                 beta: float = 16.0, seed: int = 0):  # fmt: skip
        if not 0 < semantic < 1:
            raise ValueError("semantic must be in (0, 1)")
        self.name = "probe"
        self.heads, self.head_dim, self.theta, self.semantic, self.beta, self.seed = (
            heads, head_dim, theta, semantic, beta, seed)  # fmt: skip
        pairs = head_dim // 2
        low = pairs // 4
        energy = np.full(pairs, (1 - semantic) / (pairs - low))
        energy[pairs - low :] = semantic / low
        self.amplitude = torch.tensor(np.sqrt(energy), dtype=torch.float32)  # (P,)
        rng = np.random.default_rng([seed, 2410])
        self.maps = torch.tensor(rng.normal(size=(heads, PATCH * PATCH * 3, head_dim)), dtype=torch.float32)
        self._content: dict[str, torch.Tensor] = {}  # frame key → (heads, tokens, P) complex64
        self._haystack_loaded = 0  # haystack frames 0..n−1 are in _content
        self._rotations: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()

    def config(self) -> dict:
        return dict(heads=self.heads, head_dim=self.head_dim, theta=self.theta, semantic=self.semantic,
                    beta=self.beta, seed=self.seed)  # fmt: skip

    # ------------------------------------------------------------------ layout and rotation

    @staticmethod
    def grid(dataset: Dataset) -> tuple[int, int]:
        """(H, W) tokens per frame for the dataset's frame size."""
        width, height = dataset.frame_size
        return max(1, height // TOKEN_PX), max(1, width // TOKEN_PX)

    def layout(self, dataset: Dataset, n_frames: int) -> Layout:
        h, w = self.grid(dataset)
        seconds = 1.0 / dataset.options["fps"]
        video = VisionRun("video", n_frames, h, w, seconds)
        return Layout((TextRun(PREFIX_TOKENS), video, TextRun(QUESTION_TOKENS)))

    def check_variants(self, variants: Sequence[RopeVariant]) -> None:
        for v in variants:
            v.require_shared_table("the probe")
            if v.by_layer:
                raise NiahError(f"{v.label} turns rotary off in some layers; the probe has no layers, so it "
                                "cannot run it: use a tiny: or hf: model")  # fmt: skip

    def estimate_tokens(self, dataset: Dataset, sample: Sample) -> int:
        return self.layout(dataset, len(sample.frames(dataset))).num_tokens

    def _rotation(self, dataset: Dataset, variant: RopeVariant, n_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(e^{−iφ_j}) for the vision tokens, shape (n_frames·tokens, P), and e^{iφ_q} (P,).

        Cached for the last few (variant, frame count): every depth and needle of a length share it.
        """
        key = (variant.spec, n_frames)
        if key in self._rotations:
            self._rotations.move_to_end(key)
            return self._rotations[key]
        ids = variant.position_ids(self.layout(dataset, n_frames)).to(torch.float64)  # (3, L)
        cos, sin = variant.rotary_tables(ids, self.head_dim, self.theta)  # (L, d) each
        pairs = self.head_dim // 2
        phase = torch.complex(cos[:, :pairs], sin[:, :pairs])  # e^{iφ}, (L, P)
        keys = phase[PREFIX_TOKENS : ids.shape[1] - QUESTION_TOKENS].conj()
        entry = (keys, phase[-1])
        self._rotations[key] = entry
        while len(self._rotations) > 2:
            self._rotations.popitem(last=False)
        return entry

    # ------------------------------------------------------------------ content

    def _features(self, frame: np.ndarray, grid: tuple[int, int]) -> torch.Tensor:
        """Unit complex content vectors of a frame: (heads, H·W, P) complex64."""
        gh, gw = grid
        if frame.shape[:2] != (gh * TOKEN_PX, gw * TOKEN_PX):
            frame = cv2.resize(frame, (gw * TOKEN_PX, gh * TOKEN_PX), interpolation=cv2.INTER_AREA)
        pooled = cv2.resize(frame, (gw * PATCH, gh * PATCH), interpolation=cv2.INTER_AREA)
        x = pooled.reshape(gh, PATCH, gw, PATCH, 3).transpose(0, 2, 1, 3, 4).reshape(gh * gw, -1)
        x = torch.from_numpy(x.astype(np.float32) / 255.0 - 0.5)  # (tokens, 147)
        z = torch.einsum("tf,hfd->htd", x, self.maps)  # (heads, tokens, d)
        pairs = self.head_dim // 2
        u = torch.complex(z[..., :pairs], z[..., pairs:])
        return u / u.abs().pow(2).sum(-1, keepdim=True).sqrt().clamp_min(1e-12)

    def _load_haystack(self, dataset: Dataset, count: int) -> None:
        """Content of haystack frames 0..count−1. Decoding always starts at frame 0, so `run` asks
        once for the longest length of its samples rather than growing length by length."""
        if count <= self._haystack_loaded:
            return
        grid = self.grid(dataset)
        for i, frame in enumerate(dataset.haystack_frames(count)):
            if i >= self._haystack_loaded:
                self._content[f"h{i}"] = self._features(frame, grid)
        self._haystack_loaded = count

    def _load_content(self, dataset: Dataset, refs: Sequence[FrameRef]) -> None:
        self._load_haystack(dataset, max((r.index + 1 for r in refs if r.kind == "haystack"), default=0))
        grid = self.grid(dataset)
        for ref in refs:
            if ref.kind != "haystack" and ref.key not in self._content:
                self._content[ref.key] = self._features(dataset.image(ref), grid)

    # ------------------------------------------------------------------ scoring

    def skip_reason(self, query: Query) -> str | None:
        if not query.one_frame:
            return "its answer is a relation between frames (order, count, distance); the probe retrieves one frame"
        if named_key(query.question) is None:
            return ("its question names no colour and shape, from which the probe draws its query "
                    "(it never reads the needle's pixels)")
        return None

    def _query(self, dataset: Dataset, query: Query) -> torch.Tensor:
        """u_q: normalised mean content of the key template's tokens (`key_template` of the
        question's words), (heads, P) complex64."""
        shape, colour = named_key(query.question)
        key = f"t:{shape}:{colour}"
        if key not in self._content:
            grid = self.grid(dataset)
            image, box = key_template(shape, colour, dataset.frame_size)
            content = self._features(image, grid)
            mask = box_tokens(box, dataset.frame_size, grid)
            uq = content[:, mask].mean(1)
            self._content[key] = uq / uq.abs().pow(2).sum(-1, keepdim=True).sqrt()
        return self._content[key]

    def frame_masses(self, dataset: Dataset, sample: Sample) -> tuple[list[FrameRef], torch.Tensor]:
        """The sample's frames and their attention mass summed over heads, shape (n_frames,)."""
        refs = sample.frames(dataset)
        self._load_content(dataset, refs)
        uq = self._query(dataset, sample.query)  # (heads, P)
        energy = self.amplitude.pow(2)
        norm = (energy * uq.abs().pow(2)).sum(-1, keepdim=True)  # (heads, 1)
        keys_phase, query_phase = self._rotation(dataset, sample.variant, len(refs))
        q = (energy * uq * query_phase) / norm  # (heads, P): a² ⊙ u_q ⊙ e^{iφ_q}, normalised
        tokens = self.grid(dataset)[0] * self.grid(dataset)[1]
        logits = []
        for start in range(0, len(refs), CHUNK_FRAMES):
            chunk = refs[start : start + CHUNK_FRAMES]
            k = torch.cat([self._content[r.key] for r in chunk], dim=1)  # (heads, n·tokens, P)
            phase = keys_phase[start * tokens : (start + len(chunk)) * tokens]  # (n·tokens, P)
            s = (q[:, None, :] * k.conj() * phase).real.sum(-1)  # (heads, n·tokens)
            logits.append(self.beta * s)
        logit = torch.cat(logits, dim=1)  # (heads, all vision tokens)
        attention = torch.softmax(logit, dim=1)
        masses = attention.reshape(self.heads, len(refs), tokens).sum(-1).sum(0)  # (n_frames,)
        return refs, masses

    def run(self, samples: Sequence[Sample], dataset: Dataset) -> Iterator[SampleResult]:
        self._load_haystack(dataset, max((s.cell.length for s in samples), default=0))
        for sample in samples:
            start = time.perf_counter()
            refs, masses = self.frame_masses(dataset, sample)
            yield self._result(sample, refs, masses.numpy(), time.perf_counter() - start)

    @staticmethod
    def _result(sample: Sample, refs: list[FrameRef], masses: np.ndarray, seconds: float) -> SampleResult:
        """The retrieved frame's option is the prediction (metric `probe`): the needle → right, a
        lure or a haystack frame → wrong, a decoy → right by luck."""
        best = int(masses.argmax())
        query = sample.query
        prediction = query.label_of_frame(best)
        kinds = np.array([r.kind for r in refs])
        top = {k: float(masses[kinds == k].max()) if (kinds == k).any() else 0.0 for k in FrameRef.KINDS}
        scores = dict(retrieved_index=best, retrieved_kind=refs[best].kind, needle_mass=top["needle"],
                      distractor_mass=top["distractor"], haystack_mass=top["haystack"])  # fmt: skip
        return SampleResult(sample, {"probe": Outcome(prediction, prediction == query.answer_label)}, scores, seconds)
