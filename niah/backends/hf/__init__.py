"""The transformers backend (`--model hf:ID_OR_PATH`): the checkpoints of niah.model_families."""

from niah.backends.hf.backend import HFBackend, make_hf_backend

__all__ = ["HFBackend", "make_hf_backend"]
