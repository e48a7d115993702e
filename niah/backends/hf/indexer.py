"""What a sparse indexer let the answer see: per sample and indexed layer, the share of the needle's
tokens it selected for the prompt's last position.

A model with a learned sparse indexer (Qwen4-Exp's QSA, HY-V4-VL's DeepSeek-style DSA) attends,
in each indexed layer, only to the tokens its indexer selects per query. A wrong answer may then be
the indexer's miss (the needle was never attended to) rather than a failure of the positions.
`IndexerProbe.watching()` hooks every indexer module of the text model and keeps the last query's
selection from the last forward — the prompt's last token, when it wraps a prefill. Indexers return
it as a (B, 1, q, kv) bool mask (Qwen4-Exp) or as (B, q, top-k) key indices (HY-V4-VL; its "shared"
layers reuse the previous indexer's selection and have no module of their own). `needle_share`
turns it into the share of the needle frames' tokens selected, per indexer: 0 in every layer
means the answer could not see the needle at all.

Both indexers rotate their queries and keys with the attention's own cos/sin (the
position_embeddings the text model hands each layer), so they follow whatever variant niah installs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from niah.errors import NiahError


def indexer_modules(language_model) -> dict[int, torch.nn.Module]:
    """layer index → the sparse indexer of that layer's attention (modules named `...indexer` with
    a `layer_idx`), empty for a model without one."""
    return {int(m.layer_idx): m for name, m in language_model.named_modules()
            if name.endswith("indexer") and hasattr(m, "layer_idx")}  # fmt: skip


class IndexerProbe:
    """Records, per indexed layer, which keys the last query of a forward may attend to."""

    def __init__(self, language_model):
        self.modules = indexer_modules(language_model)
        self.rows: dict[int, torch.Tensor] = {}  # layer → the last query's selection: (kv,) bool or (top-k,) indices

    def __bool__(self) -> bool:
        return bool(self.modules)

    @contextmanager
    def watching(self) -> Iterator[IndexerProbe]:
        """Within the block, every indexer forward overwrites its layer's row (the last call wins)."""
        self.rows = {}

        def keep(layer: int):
            def hook(module, args, output) -> None:
                if isinstance(output, torch.Tensor) and output.dtype == torch.bool and output.dim() == 4:
                    self.rows[layer] = output[0, 0, -1].cpu()  # a mask over the keys
                elif isinstance(output, torch.Tensor) and not output.is_floating_point() and output.dim() == 3:
                    self.rows[layer] = output[0, -1].long().cpu()  # the selected keys' indices
                else:
                    raise NiahError(f"cannot read the sparse indexer of layer {layer} ({type(module).__name__}): "
                                    "niah reads a (batch, 1, queries, keys) bool mask or (batch, queries, top-k) "
                                    "key indices")  # fmt: skip

            return hook

        handles = [m.register_forward_hook(keep(layer)) for layer, m in self.modules.items()]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def needle_share(self, token_frame: torch.Tensor, needle_frames: Sequence[int]) -> dict[int, float]:
        """layer → the share (0–1) of the needle frames' tokens the last query selected.
        `token_frame` (L,): each prompt token's frame index (−1 text), as niah.answer_attention's
        token_frames gives it; `needle_frames`: the indices of the needle frames among them."""
        needle = torch.isin(token_frame, torch.tensor(list(needle_frames), dtype=token_frame.dtype))
        if not bool(needle.any()):
            raise ValueError("the prompt has no needle frame")
        shares = {}
        for layer, row in sorted(self.rows.items()):
            if row.dtype != torch.bool:  # indices → a mask over the prompt's keys
                if len(row) and int(row.max()) >= len(token_frame):
                    raise ValueError(f"layer {layer} selected key {int(row.max())} of {len(token_frame)} prompt tokens")
                row = torch.zeros(len(token_frame), dtype=torch.bool).index_fill_(0, row, True)
            if len(row) != len(token_frame):
                raise ValueError(f"layer {layer} selected among {len(row)} keys but the prompt has {len(token_frame)}")
            shares[layer] = float(row[needle].float().mean())
        return shares
