"""Ready needle sets as files (niah JSONL + images; an example in VideoRoPE's format).

A top-level folder of the repository, installed as the data package niah.needles.
"""
