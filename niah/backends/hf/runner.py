"""Chunked prefill into a KV cache, with reuse of the prefix shared with the previous prompt.

`PromptRunner.prefill(segments, ...)` keeps the cache of the last prompt; for the next one it
truncates the cache to the longest common segment prefix and computes only the rest, in chunks
of `chunk_tokens`, taking last-position logits only. Without reuse it starts from an empty cache
every time (the naive path, `--no-prefix-reuse`). Continuations (answer options) are scored by
teacher forcing on top of the cache and removed again.

Out of memory: the cache is truncated back to where the failed chunk began, the chunk is halved
and the prefill goes on; below MIN_CHUNK the sample is failed (the engine retries it on resume).

Linear-attention layers (Qwen3.5's Gated DeltaNet) keep a recurrent state, and LFM3's short
convolutions their last inputs, that cannot be cut back to an earlier token. For such hybrid
models the prefill ends a chunk exactly where a later prompt will diverge from this one
(`snapshot_at`, known from the run order: `snapshot_points`) and keeps a copy of the states
there; that prompt restores them and crops only the full-attention layers. Continuations are
scored from a copy of the end-of-prompt states, and after an out-of-memory chunk the prompt
starts again from the latest snapshot it holds (the states a failed forward left are unknown).

Sliding-window layers (Qwen2's use_sliding_window, CohereCompass) drop the keys that slide out of
the window, so no prefix can be kept: such a model runs with `--no-prefix-reuse` only
(`check_attention` refuses reuse in one line), each chunk attends through an explicit window mask
(niah.backends.hf.attention), and continuations restore the window from a copy as above.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch

from niah.answer_attention import Recorder, recording
from niah.backends.hf.prompt import Segment

MIN_CHUNK = 256  # tokens: below this a prefill that still runs out of memory is given up
OOM_ERRORS: tuple[type[BaseException], ...] = (torch.OutOfMemoryError,)


class SampleFailed(Exception):
    """The sample cannot run (e.g. out of memory even at the smallest chunk)."""


def _recurrent(layer) -> bool:
    """A linear-attention cache layer: conv and recurrent states, no keys per token."""
    return hasattr(layer, "recurrent_states")


def _uncroppable(layer) -> bool:
    """A cache layer that cannot be cut back to an earlier token: linear attention (recurrent
    states) or a sliding window (it has dropped what slid out); its state comes back from a copy."""
    return _recurrent(layer) or hasattr(layer, "sliding_window")


CROPPABLE_LAYERS = {"DynamicLayer", "DynamicIndexedLayer"}
"""Cache layers that `crop` cuts back exactly: plain keys and values, and a sparse indexer's layer
(Qwen4-Exp, HY-V4-VL: its crop cuts the indexer keys, and Qwen4-Exp's position history, with them)."""


def _truncate(cache, length: int) -> None:
    """Keep the first `length` tokens of every full-attention layer, each through its own `crop`
    (layers may differ in length after an interrupted chunk, so one cache-wide count would cut them
    wrongly). Linear-attention and sliding-window layers are left as they are: their states are
    restored from a copy (`LayerStates`), and a model with sliding windows runs without prefix
    reuse (check_attention)."""
    for layer in cache.layers:
        if _uncroppable(layer):
            continue
        if type(layer).__name__ not in CROPPABLE_LAYERS:
            raise SampleFailed(f"cannot crop a {type(layer).__name__} of the KV cache")
        current = layer.get_seq_length() if getattr(layer, "keys", None) is not None else 0
        if current > length:
            layer.crop(-(current - length))  # a negative count: tokens to drop (transformers 4.x and 5.x)


class LayerStates:
    """A copy of every layer that cannot be cut back (`_uncroppable`: linear attention's conv and
    recurrent states, a sliding window's keys and values) at one token count."""

    def __init__(self, cache, tokens: int):
        self.tokens = tokens
        self.states = [copy.deepcopy(layer.__dict__) for layer in cache.layers if _uncroppable(layer)]

    def restore(self, cache) -> None:
        """Put the states back (copied again: a snapshot may be restored more than once)."""
        layers = [layer for layer in cache.layers if _uncroppable(layer)]
        for layer, state in zip(layers, self.states, strict=True):
            layer.__dict__.update(copy.deepcopy(state))


LAYER_KINDS = {"full_attention", "linear_attention", "sliding_attention", "conv", "indexed_attention"}
"""The text-model layer types niah runs (config.layer_types); "conv" is LFM3's short convolution,
whose cache layer keeps a conv state as linear attention does; "indexed_attention" is full
attention restricted per query by a sparse indexer (Qwen4-Exp), whose cache crops exactly."""
STATE_KINDS = {"linear_attention", "conv"}
"""Layer types with no attention (Qwen3.5's Gated DeltaNet, LFM3's short convolutions): their cache
is a state, not keys per token, snapshotted where prompts diverge; they rotate nothing."""


def attention_kinds(text_config) -> set[str]:
    """The layer types of a text model; Qwen2's use_sliding_window counts as sliding layers whatever
    layer_types says (transformers versions derive the one from the other differently)."""
    kinds = set(getattr(text_config, "layer_types", None) or ["full_attention"])
    if getattr(text_config, "use_sliding_window", False):
        kinds.add("sliding_attention")
    return kinds


def check_attention(text_config, reuse: bool = True) -> str | None:
    """Why a text model cannot run in niah, or not with prefix reuse, or None. Linear-attention
    layers (Qwen3.5) are fine: their states are snapshotted where prompts diverge. Sliding-window
    layers drop what slides out of the window, so their cache cannot be cut back to a shared prefix:
    such a model runs with every prompt computed whole."""
    kinds = attention_kinds(text_config)
    if other := kinds - LAYER_KINDS:
        return f"it has {', '.join(sorted(other))} layers (config layer_types), which niah does not run"
    if reuse and "sliding_attention" in kinds:
        return ("it has sliding-window attention layers (use_sliding_window or layer_types), whose KV cache "
                "niah cannot cut back to a shared prefix: add --no-prefix-reuse (each prompt computed whole)")
    return None


def free_memory() -> None:
    """Return cached CUDA blocks; call it after leaving the except block of an OOM, when the failed
    forward's tensors are no longer referenced by the traceback."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


Embed = Callable[[int, int], tuple[torch.Tensor, dict[str, Any]]]
"""embed(start, stop) → (inputs_embeds (1, n, hidden), the text model's other inputs for these
tokens: deepstack embeddings and their mask, or token types for a modality-routed MoE) for prompt
tokens start..stop−1."""


def shared_tokens(previous: Sequence[Segment], segments: Sequence[Segment]) -> int:
    """Tokens at the start of `segments` whose cache entries a prefill of `previous` left behind:
    the common run of equal segments, less the prompt's last token (recomputed for its logits)."""
    n = 0
    for a, b in zip(previous, segments, strict=False):
        if a.key != b.key:
            break
        n += a.n
    return min(n, sum(s.n for s in segments) - 1)


class Scored(NamedTuple):
    """A teacher-forced continuation: the sum of its tokens' log-probabilities, whether every argmax
    over the vocabulary equals its token (exact match), and those argmax tokens."""

    logprob: float
    exact: bool
    greedy: list[int]


def cache_argument(language_model) -> str:
    """The name the text model's forward takes its KV cache by: `cache` from transformers 5.25
    (`past_key_values` is deprecated there and removed in 5.40), `past_key_values` before."""
    return "cache" if "cache" in inspect.signature(language_model.forward).parameters else "past_key_values"


class PromptRunner:
    """Prefill with prefix reuse over a sequence of prompts; counts the tokens it computes."""

    def __init__(self, model, chunk_tokens: int = 8192, reuse: bool = True, ids_argument: str = ""):
        self.model = model
        self.ids_argument = ids_argument  # the text model's argument for token ids beside the embeddings (Family)
        self.chunk_tokens = chunk_tokens
        self.reuse = reuse
        self.cache = None
        self.segments: list[Segment] = []
        self.cached_tokens = 0
        self.tokens_computed = 0
        self.last_positions: torch.Tensor | None = None
        self.snapshots: dict[int, LayerStates] = {}  # hybrid models: tokens → states where later prompts diverge
        kinds = attention_kinds(model.config.get_text_config())
        self.hybrid = bool(STATE_KINDS & kinds)  # linear-attention and conv layers: their states come from snapshots
        # layers that cannot be cut back (linear attention, sliding windows) come back from copies (LayerStates)
        self.copies_layers = self.hybrid or "sliding_attention" in kinds
        self.cache_name = cache_argument(model.model.language_model)
        self.positions: torch.Tensor | None = None  # (3, L) of the prompt the cache holds

    def reset(self) -> None:
        self.cache, self.segments, self.cached_tokens, self.snapshots = None, [], 0, {}
        self.positions = None

    def _common_tokens(self, segments: Sequence[Segment], positions: torch.Tensor) -> int:
        """Tokens of the cached prompt the new one can keep: its common segment prefix, cut at the
        first token whose position ids differ (a variant whose prefix positions depend on what
        follows gets no stale keys; `RopeVariant.position_ids` states the invariant)."""
        if not self.reuse or self.cache is None or self.positions is None:
            return 0
        keep = shared_tokens(self.segments, segments)
        same = (self.positions[:, :keep] == positions[:, :keep].to(self.positions.device)).all(0)
        return keep if bool(same.all()) else int((~same).nonzero()[0, 0])

    def _new_cache(self):
        from transformers import DynamicCache

        self.cache = DynamicCache(config=self.model.config.get_text_config())
        self.snapshots = {}
        return self.cache

    def _back_to_snapshot(self, limit: int) -> int:
        """Restore the latest snapshot at or before `limit` tokens (or start an empty cache); the
        tokens the cache then holds."""
        tokens = max((t for t in self.snapshots if t <= limit), default=0)
        if not tokens:
            self._new_cache()
            return 0
        self.snapshots[tokens].restore(self.cache)
        _truncate(self.cache, tokens)
        return tokens

    @torch.no_grad()
    def prefill(self, segments: Sequence[Segment], positions: torch.Tensor, embed: Embed,
                snapshot_at: Sequence[int] = (), recorder: Recorder | None = None) -> torch.Tensor:  # fmt: skip
        """Logits (vocab,) float32 at the last prompt token. `positions` (3, L) for the whole prompt.
        `snapshot_at`: token counts where later prompts diverge from this one (a hybrid model keeps
        its recurrent states there; other models need not know). `recorder`: armed for the chunk
        that computes the last token (its attention at the answer, niah.answer_attention)."""
        total = sum(s.n for s in segments)
        keep = self._common_tokens(segments, positions)
        if self.cache is None or not self.reuse:
            self._new_cache()
            keep = 0
        if self.hybrid:  # recurrent states come back only as they were at a snapshot
            self.snapshots = {t: s for t, s in self.snapshots.items() if t <= keep}  # the rest diverged
            keep = self._back_to_snapshot(keep)
        marks = sorted(t for t in snapshot_at if keep < t < total) if self.hybrid and self.reuse else []
        _truncate(self.cache, keep)
        self.cached_tokens = keep
        self.segments = list(segments)
        device = next(self.model.parameters()).device
        positions = positions.to(device)
        chunk = self.chunk_tokens
        start = keep
        hidden = None
        while start < total:
            stop = min(total, start + chunk)
            stop = min([stop, *(m for m in marks if m > start)])  # end a chunk where a later prompt diverges
            try:
                with recording(recorder if stop == total else None):
                    hidden = self._forward(embed, start, stop, positions)
            except OOM_ERRORS:
                failed = True
            else:
                failed = False
            if failed:  # outside the except block: the traceback (and the failed forward's tensors) is gone
                _truncate(self.cache, start)
                free_memory()
                if chunk // 2 < MIN_CHUNK:
                    self.reset()
                    raise SampleFailed(f"CUDA out of memory at {total} tokens even with {chunk}-token chunks") from None
                chunk //= 2
                if self.copies_layers:  # a failed forward may have moved states that cannot be cut back
                    start = self._back_to_snapshot(start)
                continue
            self.tokens_computed += stop - start
            start = stop
            self.cached_tokens = stop
            if stop in marks:
                self.snapshots[stop] = LayerStates(self.cache, stop)
        self.chunk_tokens = chunk  # a chunk that ran out of memory once stays halved for later prompts
        self.positions = positions
        self.last_positions = positions[:, -1]
        return self._logits(hidden)

    def _forward(self, embed: Embed, start: int, stop: int, positions: torch.Tensor) -> torch.Tensor:
        embeds, kwargs = embed(start, stop)
        lm = self.model.model.language_model
        out = lm(inputs_embeds=embeds, position_ids=positions[:, None, start:stop], use_cache=True,
                 **{self.cache_name: self.cache}, **kwargs)  # fmt: skip
        return out.last_hidden_state[:, -1]

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.lm_head(hidden)[0].float()

    def _feed(self, tokens: Sequence[int], offset: int) -> torch.Tensor:
        """Logits (n, vocab) float32 after feeding `tokens` on top of the cache, the first at the
        prompt's last position + 1 + `offset`."""
        lm = self.model.model.language_model
        device = self.last_positions.device
        ids = torch.tensor([list(tokens)], device=device)
        steps = torch.arange(1 + offset, 1 + offset + len(tokens), device=device)
        positions = (self.last_positions[:, None] + steps)[:, None, :]
        extra = {self.ids_argument: ids} if self.ids_argument else {}
        out = lm(inputs_embeds=lm.embed_tokens(ids), position_ids=positions, use_cache=True,
                 **{self.cache_name: self.cache}, **extra)  # fmt: skip
        return self.model.lm_head(out.last_hidden_state)[0].float()

    def _continuing(self) -> Callable[[], None]:
        """Before feeding continuation tokens: a function that puts the cache back to the prompt's
        end (full-attention layers cut back, recurrent states restored from a copy)."""
        end_of_prompt = LayerStates(self.cache, self.cached_tokens) if self.copies_layers else None

        def rewind() -> None:
            _truncate(self.cache, self.cached_tokens)
            if end_of_prompt is not None:
                end_of_prompt.restore(self.cache)

        return rewind

    @torch.no_grad()
    def score(self, first_logits: torch.Tensor, tokens: Sequence[int]) -> Scored:
        """Teacher-forced continuation `tokens` after the prompt (`first_logits`: its last logits)."""
        logits = first_logits[None]
        if len(tokens) > 1:
            rewind = self._continuing()
            try:
                logits = torch.cat([logits, self._feed(tokens[:-1], 0)])
            finally:
                rewind()
        logp = torch.log_softmax(logits, -1)
        target = torch.tensor(list(tokens), device=logits.device)
        greedy = logits.argmax(-1)
        return Scored(float(logp.gather(1, target[:, None]).sum()), bool((greedy == target).all()), greedy.tolist())

    @torch.no_grad()
    def generate(self, first_logits: torch.Tensor, max_tokens: int, stop: set[int]) -> list[int]:
        """Greedy tokens after the prompt, at most `max_tokens`, ending at (and including) one in `stop`."""
        out = [int(first_logits.argmax())]
        rewind = self._continuing()
        try:
            while len(out) < max_tokens and out[-1] not in stop:
                out.append(int(self._feed(out[-1:], len(out) - 1)[-1].argmax()))
        finally:
            rewind()
        return out
