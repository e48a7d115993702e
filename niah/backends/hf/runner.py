"""Chunked prefill into a KV cache, with reuse of the prefix shared with the previous prompt.

`PromptRunner.prefill(segments, ...)` keeps the cache of the last prompt; for the next one it
truncates the cache to the longest common segment prefix and computes only the rest, in chunks
of `chunk_tokens`, taking last-position logits only. Without reuse it starts from an empty cache
every time (the naive path, `--no-prefix-reuse`). Continuations (answer options) are scored by
teacher forcing on top of the cache and removed again.

Out of memory: the cache is truncated back to where the failed chunk began, the chunk is halved
and the prefill goes on; below MIN_CHUNK the sample is failed (the engine retries it on resume).

Linear-attention layers (Qwen3.5's Gated DeltaNet) keep a recurrent state that cannot be cut back
to an earlier token. For such hybrid models the prefill ends a chunk exactly where a later prompt
will diverge from this one (`snapshot_at`, known from the run order: `snapshot_points`) and keeps
a copy of the recurrent states there; that prompt restores them and crops only the full-attention
layers. Continuations are scored from a copy of the end-of-prompt states, and after an
out-of-memory chunk the prompt starts again from the latest snapshot it holds (the states a
failed forward left are unknown).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch

from niah.backends.hf.prompt import Segment

MIN_CHUNK = 256  # tokens: below this a prefill that still runs out of memory is given up
OOM_ERRORS: tuple[type[BaseException], ...] = (torch.OutOfMemoryError,)


class SampleFailed(Exception):
    """The sample cannot run (e.g. out of memory even at the smallest chunk)."""


def _recurrent(layer) -> bool:
    """A linear-attention cache layer: conv and recurrent states, no keys per token."""
    return hasattr(layer, "recurrent_states")


def _truncate(cache, length: int) -> None:
    """Keep the first `length` tokens of every full-attention layer, each through its own `crop`
    (layers may differ in length after an interrupted chunk, so one cache-wide count would cut them
    wrongly). Linear-attention layers are left as they are (their states are restored from a
    snapshot, `RecurrentStates`); a sliding-window layer cannot be cut back (niah refuses such
    models, see check_full_attention)."""
    for layer in cache.layers:
        if _recurrent(layer):
            continue
        if type(layer).__name__ != "DynamicLayer":
            raise SampleFailed(f"cannot crop a {type(layer).__name__} of the KV cache")
        current = layer.get_seq_length() if getattr(layer, "keys", None) is not None else 0
        if current > length:
            layer.crop(-(current - length))  # a negative count: tokens to drop (transformers 4.x and 5.x)


class RecurrentStates:
    """A copy of every linear-attention layer's conv and recurrent states at one token count."""

    def __init__(self, cache, tokens: int):
        self.tokens = tokens
        self.states = [copy.deepcopy(layer.__dict__) for layer in cache.layers if _recurrent(layer)]

    def restore(self, cache) -> None:
        """Put the states back (copied again: a snapshot may be restored more than once)."""
        layers = [layer for layer in cache.layers if _recurrent(layer)]
        for layer, state in zip(layers, self.states, strict=True):
            layer.__dict__.update(copy.deepcopy(state))


def check_full_attention(text_config) -> str | None:
    """Why a text model cannot run with niah's prefix reuse (sliding-window attention layers), or
    None; linear-attention layers (Qwen3.5) are fine: their states are snapshotted."""
    kinds = set(getattr(text_config, "layer_types", None) or [])
    if getattr(text_config, "use_sliding_window", False) or kinds - {"full_attention", "linear_attention"}:
        return ("it has sliding-window attention layers (use_sliding_window or layer_types), whose KV cache "
                "niah cannot cut back to a shared prefix")  # fmt: skip
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


class PromptRunner:
    """Prefill with prefix reuse over a sequence of prompts; counts the tokens it computes."""

    def __init__(self, model, chunk_tokens: int = 8192, reuse: bool = True):
        self.model = model
        self.chunk_tokens = chunk_tokens
        self.reuse = reuse
        self.cache = None
        self.segments: list[Segment] = []
        self.cached_tokens = 0
        self.tokens_computed = 0
        self.last_positions: torch.Tensor | None = None
        self.snapshots: dict[int, RecurrentStates] = {}  # hybrid models: tokens → states where later prompts diverge
        kinds = getattr(model.config.get_text_config(), "layer_types", None) or []
        self.hybrid = "linear_attention" in kinds  # linear-attention layers: their states come from snapshots

    def reset(self) -> None:
        self.cache, self.segments, self.cached_tokens, self.snapshots = None, [], 0, {}

    def _common_tokens(self, segments: Sequence[Segment]) -> int:
        if not self.reuse or self.cache is None:
            return 0
        return shared_tokens(self.segments, segments)

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
                snapshot_at: Sequence[int] = ()) -> torch.Tensor:  # fmt: skip
        """Logits (vocab,) float32 at the last prompt token. `positions` (3, L) for the whole prompt.
        `snapshot_at`: token counts where later prompts diverge from this one (a hybrid model keeps
        its recurrent states there; other models need not know)."""
        total = sum(s.n for s in segments)
        keep = self._common_tokens(segments)
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
                if self.hybrid:  # a failed forward may have advanced some recurrent states: back to good ones
                    start = self._back_to_snapshot(start)
                continue
            self.tokens_computed += stop - start
            start = stop
            self.cached_tokens = stop
            if stop in marks:
                self.snapshots[stop] = RecurrentStates(self.cache, stop)
        self.chunk_tokens = chunk  # a chunk that ran out of memory once stays halved for later prompts
        self.last_positions = positions[:, -1]
        return self._logits(hidden)

    def _forward(self, embed: Embed, start: int, stop: int, positions: torch.Tensor) -> torch.Tensor:
        embeds, kwargs = embed(start, stop)
        lm = self.model.model.language_model
        out = lm(inputs_embeds=embeds, position_ids=positions[:, None, start:stop], past_key_values=self.cache,
                 use_cache=True, **kwargs)  # fmt: skip
        return out.last_hidden_state[:, -1]

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.lm_head(hidden)[0].float()

    @torch.no_grad()
    def score(self, first_logits: torch.Tensor, tokens: Sequence[int]) -> tuple[float, bool]:
        """Teacher-forced continuation: (sum of log-probabilities, every argmax equals the token)."""
        logp = torch.log_softmax(first_logits, -1)
        total, exact = float(logp[tokens[0]]), bool(first_logits.argmax() == tokens[0])
        if len(tokens) > 1:
            end_of_prompt = RecurrentStates(self.cache, self.cached_tokens) if self.hybrid else None
            lm = self.model.model.language_model
            device = first_logits.device
            ids = torch.tensor([list(tokens[:-1])], device=device)
            embeds = lm.embed_tokens(ids)
            steps = torch.arange(1, len(tokens), device=device)
            positions = (self.last_positions[:, None].to(device) + steps)[:, None, :]
            out = lm(inputs_embeds=embeds, position_ids=positions, past_key_values=self.cache, use_cache=True)
            logits = self.model.lm_head(out.last_hidden_state)[0].float()  # (n-1, vocab)
            logp = torch.log_softmax(logits, -1)
            target = torch.tensor(tokens[1:], device=device)
            total += float(logp.gather(1, target[:, None]).sum())
            exact = exact and bool((logits.argmax(-1) == target).all())
            _truncate(self.cache, self.cached_tokens)
            if end_of_prompt is not None:
                end_of_prompt.restore(self.cache)
        return total, exact
