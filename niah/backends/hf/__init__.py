"""The transformers backend (`--model hf:ID_OR_PATH`): Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints."""

from niah.backends.hf.backend import HFBackend, make_hf_backend

__all__ = ["HFBackend", "make_hf_backend"]
