"""Metrics by name (as lm-eval's `metric_list`): what a sample's `correct` means.

A task declares the metrics it is scored by (`Task.metrics`, primary first); a backend returns one
`Outcome` per metric it can compute. The papers' metric is `exact_match`: a model that cannot
compute it (the probe, a tiny model) records its own metric under its own name, never under a
paper's.

`generate` parses a model's free text as lmms-eval's multiple-choice tasks do
(`extract_characters_regex` of lmms_eval/tasks/videomme/utils.py): known answer prefixes removed,
an answer of more than 10 words that names no letter is empty, else the first option letter found.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from niah.errors import unknown


@dataclass(frozen=True)
class Metric:
    """`name` as recorded; `title` for figure titles and table headers; `description` for --help."""

    name: str
    title: str
    description: str


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("exact_match", "exact match",
           "teacher-forced greedy match of the answer's tokens over the whole vocabulary, right after the generation "
           "prompt: every argmax equals the answer's token (LongVA's and VideoRoPE's `(pred == answer_ids).all()`)"),
    Metric("mc", "multiple choice",
           "argmax over the options of the log-likelihood of each option's continuation, encoded in context after "
           "the prompt (lm-eval's rule)"),
    Metric("generate", "generated answer",
           "greedy generation of up to 16 tokens (GENERATE_TOKENS); the first option letter parsed as lmms-eval's "
           "multiple-choice tasks do (an open answer: its first word); empty, one repeated character or no option "
           "named is `degenerate` and wrong"),
    Metric("value_choice", "tiny-model choice",
           "a tiny model's argmax over the option values in its answer vocabulary (it has no letters)"),
    Metric("probe", "probe retrieval",
           "the attention probe's heaviest frame shows the answer: a property of the RoPE variant, not a model's "
           "accuracy"),
)}  # fmt: skip
"""Metric name → Metric. PAPER_METRICS are those a video LLM answers; the rest are niah's own."""

PAPER_METRICS = ("exact_match", "mc", "generate")
GENERATE_TOKENS = 16  # greedy tokens the `generate` metric reads


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise unknown("metric", name, METRICS)
    return METRICS[name]


@dataclass(frozen=True)
class Outcome:
    """One metric's verdict on one sample: the prediction (an option letter, an open answer, "" for
    none), whether it is right, and for `generate` whether the output was degenerate."""

    prediction: str
    correct: bool
    degenerate: bool | None = None

    def as_json(self, lure_letters: frozenset[str] | None) -> dict:
        """The record of this outcome; `lured`: the prediction is a look-alike's wrong option (None
        where the task measures no lure rate)."""
        out = {"prediction": self.prediction, "correct": bool(self.correct),
               "lured": None if lure_letters is None else self.prediction in lure_letters}  # fmt: skip
        if self.degenerate is not None:
            out["degenerate"] = bool(self.degenerate)
        return out


ANSWER_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
                   "The best option is", "The correct option is", "Best answer:", "Best option:", "Answer:",
                   "Option:")  # fmt: skip
"""lmms-eval's prefixes removed before the letter is looked for (videomme/utils.py)."""


def degenerate(text: str) -> bool:
    """Empty, or one character repeated ("!!!!", LongVA issue #33)."""
    stripped = text.strip()
    return not stripped or len(set(stripped)) == 1 and len(stripped) > 1


def parse_choice(text: str, letters: str) -> str:
    """The option letter a generated answer names, "" when none (lmms-eval's rule over `letters`)."""
    s = text.strip()
    for prefix in ANSWER_PREFIXES:
        s = s.replace(prefix, "")
    found = re.search(f"[{re.escape(letters)}]", s) if letters else None
    return found[0] if found else ""  # lmms-eval's "over 10 words and no letter" is empty too


def normalise(text: str) -> str:
    """Lower case, punctuation and surrounding spaces removed: how an open answer is compared."""
    return text.lower().translate(str.maketrans("", "", string.punctuation)).strip()


def generated_outcome(text: str, letters: str, answer_label: str) -> Outcome:
    """The `generate` outcome of a model's greedy text: for options the parsed letter, for an open
    question the first words (as many as the answer has) compared after `normalise`."""
    if letters:
        choice = parse_choice(text, letters)
        return Outcome(choice, choice == answer_label, degenerate(text) or not choice)
    words = normalise(text).split()
    said = " ".join(words[: len(normalise(answer_label).split())])
    return Outcome(said, said == normalise(answer_label), degenerate(text) or not said)
