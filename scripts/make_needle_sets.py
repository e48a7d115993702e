"""Rebuild the ready needle sets in needles/ from the built-in families (run from the repo root).

- needles/builtin/: one needle per built-in family with near distractors, in niah's JSONL
  (needles.jsonl + PNGs) at 448x252, seed 0: a set to read, copy and edit.
- needles/videorope-example/: two needles with scene distractors written in VideoRoPE's own
  format (v_niah_d.json: path, interrupt_path, prompt with lettered options, answer letter;
  images in images/), to show that niah reads it as it is.

    python scripts/make_needle_sets.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from niah.data.families import NEEDLE_FAMILIES
from niah.data.images import write_png
from niah.data.needle_files import write_needle_set
from niah.data.needles import LETTERS, builtin_needles

ROOT = Path(__file__).resolve().parent.parent / "needles"
WIDTH, HEIGHT = 448, 252


def main() -> None:
    builtin = ROOT / "builtin"
    shutil.rmtree(builtin, ignore_errors=True)
    write_needle_set(builtin, builtin_needles(len(NEEDLE_FAMILIES), 0, WIDTH, HEIGHT))

    example = ROOT / "videorope-example"
    shutil.rmtree(example, ignore_errors=True)
    (example / "images").mkdir(parents=True)
    records = []
    for n in builtin_needles(2, 1, WIDTH, HEIGHT, ["colour", "count"], kind="scene"):
        write_png(example / "images" / f"{n.id}.png", n.image)
        write_png(example / "images" / f"{n.id}_interrupt.png", n.distractors[0].image)
        options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(n.options))
        prompt = f"{n.question}\n{options}\nAnswer with the option's letter from the given choices directly."
        records.append({"path": f"{n.id}.png", "interrupt_path": f"{n.id}_interrupt.png", "prompt": prompt,
                        "answer": LETTERS[n.answer]})  # fmt: skip
    (example / "v_niah_d.json").write_text(json.dumps(records, indent=4) + "\n")


if __name__ == "__main__":
    main()
