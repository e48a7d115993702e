"""lmms-eval functions for a niah export (written by `niah export`; standalone, no niah needed).

Run with `lmms-eval --tasks niah_v_niah,... --include_path EXPORT/lmms_eval_tasks`. Each row's
video is the materialised MP4 when the export has one, else composed from the shared haystack
(niah_frames.py beside this folder) and cached under NIAH_VIDEO_CACHE (default EXPORT/.video_cache).
Scoring is niah's `generate` metric: known answer prefixes removed, the first option letter found
is the prediction (lmms-eval's videomme rule); empty, one repeated character or no letter is
`degenerate` and wrong. `niah import lmms-eval` turns the --log_samples output back into a niah run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import string
from collections import defaultdict
from pathlib import Path

ROOT = Path(os.environ.get("NIAH_EXPORT_ROOT", Path(__file__).resolve().parents[1]))
INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."
ANSWER_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
                   "The best option is", "The correct option is", "Best answer:", "Best option:", "Answer:",
                   "Option:")  # fmt: skip


def _frames_module():
    spec = importlib.util.spec_from_file_location("niah_frames", ROOT / "niah_frames.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def doc_to_visual(doc, lmms_eval_specific_kwargs=None):
    """[the row's MP4 path]: the materialised one, or one composed once and cached."""
    if doc.get("video") and (ROOT / doc["video"]).is_file():
        return [str(ROOT / doc["video"])]
    cache = Path(os.environ.get("NIAH_VIDEO_CACHE", ROOT / ".video_cache"))
    path = cache / doc["task"] / f"{doc['cell']}.mp4"
    if not path.is_file():
        _frames_module().write_mp4(doc, ROOT, path)
    return [str(path)]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    """The question, lettered options and the instruction, as niah's hf backend asks them."""
    kwargs = lmms_eval_specific_kwargs or {}
    if len(doc["options"]) <= 1:
        body = f"{doc['question']}\n{OPEN_INSTRUCTION}"
    else:
        lines = [doc["question"], *(f"{string.ascii_uppercase[i]}. {o}" for i, o in enumerate(doc["options"]))]
        body = "\n".join([*lines, INSTRUCTION])
    return f"{kwargs.get('pre_prompt', '')}{body}{kwargs.get('post_prompt', '')}"


def _degenerate(text):
    stripped = text.strip()
    return not stripped or (len(set(stripped)) == 1 and len(stripped) > 1)


def _normalise(text):
    return text.lower().translate(str.maketrans("", "", string.punctuation)).strip()


def score(doc, text):
    """niah's `generate` outcome of a generated text: prediction, correct, lured, degenerate."""
    letters = string.ascii_uppercase[: len(doc["options"])] if len(doc["options"]) > 1 else ""
    if letters:
        s = text.strip()
        for prefix in ANSWER_PREFIXES:
            s = s.replace(prefix, "")
        found = re.search(f"[{re.escape(letters)}]", s)
        prediction = found[0] if found else ""
        correct = prediction == doc["answer"]
        degenerate = _degenerate(text) or not prediction
    else:
        words = _normalise(text).split()
        prediction = " ".join(words[: len(_normalise(doc["answer"]).split())])
        correct = prediction == _normalise(doc["answer"])
        degenerate = _degenerate(text) or not prediction
    lured = None if doc["lure_letters"] is None else prediction in doc["lure_letters"]
    return {"prediction": prediction, "correct": bool(correct), "lured": lured, "degenerate": bool(degenerate)}


KEPT = ("id", "task", "cell", "length", "depth", "needle", "answer", "lure_letters")
"""What process_results carries of a row into lmms-eval's log (lmms-eval 0.7 logs no `doc`), so
`niah import lmms-eval` can place and rescore every sample."""


def process_results(doc, results):
    """{"niah_generate": {id, task, cell, length, depth, needle, answer, lure_letters, letters,
    prediction, correct, lured, degenerate}}: the row's place and answer, and its outcome."""
    text = results[0] if results else ""
    while isinstance(text, list):
        text = text[0] if text else ""
    outcome = score(doc, str(text))
    letters = string.ascii_uppercase[: len(doc["options"])] if len(doc["options"]) > 1 else ""
    return {"niah_generate": {**{k: doc[k] for k in KEPT}, "letters": letters, **outcome}}


def aggregate(results):
    """Accuracy over every sample; the per-(length, depth) cells are printed as a niah heatmap's table."""
    cells = defaultdict(list)
    for r in results:
        cells[(r["length"], r["depth"])].append(r["correct"])
    for (length, depth), hits in sorted(cells.items()):
        print(f"niah  length {length:>6}  depth {depth:>3}  accuracy {sum(hits) / len(hits):.3f}  ({len(hits)})")
    return sum(r["correct"] for r in results) / max(1, len(results))
