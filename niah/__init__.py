"""niah: needle-in-a-haystack benchmarks for the positional encodings of video LLMs.

The library is importable from a notebook; the `niah` command is a thin layer over it.
"""

__version__ = "0.1.0"
