"""The tokenizer the tiny checkpoints (and scripts/longva_prompts.py) are saved with."""

from __future__ import annotations

from tokenizers import Tokenizer, models, pre_tokenizers

from niah.backends.hf.tiny import SPECIAL, tiny_tokenizer


def test_tiny_tokenizer_keeps_a_given_bpe_and_adds_every_family_special_token():
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)} | {"se": len(alphabet), "sec": len(alphabet) + 1}
    base = Tokenizer(models.BPE(vocab=vocab, merges=[("s", "e"), ("se", "c")]))
    base.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    merged, plain = tiny_tokenizer(base), tiny_tokenizer()
    assert len(merged.encode("sec", add_special_tokens=False)) == 1  # the given merges act
    assert len(plain.encode("sec", add_special_tokens=False)) == 3  # bytes only
    for tok in (merged, plain):
        ids = tok.encode("<|vision_start|>sec<|VIDEO_END|>", add_special_tokens=False)
        assert tok.convert_ids_to_tokens([ids[0], ids[-1]]) == ["<|vision_start|>", "<|VIDEO_END|>"]
        assert all(tok.convert_tokens_to_ids(t) != tok.unk_token_id for t in SPECIAL)
