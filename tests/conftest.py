import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test reaches for the hub: a hub id fails at once, not after retries

sys.path.insert(0, str(Path(__file__).parent))
