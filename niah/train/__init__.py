"""`niah train`: tiny video-retrieval models trained per RoPE variant on the CPU (docs/train.md).

model.py   the transformer, its frame encoder and tokenizer
data.py    the endless seeded stream of training cells (seeds disjoint from every dataset's)
trainer.py the training loop: checkpoints, resume, log, progress
"""
