"""Sweeps: the plan of samples, the results store (append-only JSONL, resume, shards), summaries."""
