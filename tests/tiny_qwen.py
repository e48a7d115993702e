"""Test helpers re-exported from the library."""

from niah.backends.hf.tiny import save_tiny_checkpoint, tiny_config, tiny_tokenizer

__all__ = ["save_tiny_checkpoint", "tiny_config", "tiny_tokenizer"]
