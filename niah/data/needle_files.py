"""Needle files: the user's own needles in, a dataset's needle set out.

Three needle formats are read as they are (a JSON array or one JSON object per line); V-RULER's
item files (several images per item) are read by niah.data.vruler:

- **niah**: ``image`` (or ``path``), ``find`` + ``ask`` (or one ``question``/``prompt``),
  ``options``, ``answer``, ``distractors`` (image paths, or objects ``{"image", "lure"}``), and
  the older ``distractor_answers``. An ``answer`` or ``lure`` that is a JSON integer is an option
  index; a string is an option's text or its letter. A dataset's ``needles/needles.jsonl`` is
  this format, so it reads back as it was written.
- **LongVA** (``vision_niah/needle_datasets/dataset.json``): ``path``, ``prompt`` with the
  options as "A. ..." lines, ``answer`` (a letter, or free text for an open question).
- **VideoRoPE** (``videorope_plus/v_ruler/data/v_niah_d.json``): LongVA's fields plus
  ``interrupt_path``, the distractor; its lure is not recorded there, so it is unknown.

From a prompt, the option lines are taken as options, instruction lines ("Answer with ...",
"Please provide ...") are dropped (niah adds its own), and a question that opens with "Find ..."
is split into its find clause (the first sentence) and its ask clause. Relative image paths are
relative to the file (or its images/ folder, VideoRoPE's layout). A distractor whose lure is the
needle's answer is refused unless it is marked ``"decoy": true`` (a look-alike that fails the find
clause and shows the answer's value, as built-in needles have, so option frequencies give nothing
away).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from niah.data.images import read_image, write_png
from niah.data.needles import LETTERS, Distractor, Needle
from niah.errors import NiahError

OPTION_LINE = re.compile(r"^\s*([A-Z])[.)]\s+(.+?)\s*$")
INSTRUCTION_LINE = re.compile(r"^\s*(answer|please|respond|reply)\b", re.IGNORECASE)
FIND_CLAUSE = re.compile(r"^(find\b.*?[.?!])\s+(.+)$", re.IGNORECASE | re.DOTALL)
NEEDLE_SET_FILE = "needles.jsonl"
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")  # a needle id names its image files


def ready_sets() -> dict[str, Path]:
    """The needle sets shipped in needles/ (installed as niah.needles): name → file."""
    sets = {}
    for folder in resources.files("niah.needles").iterdir():
        files = sorted(p for p in folder.iterdir() if p.name.endswith((".json", ".jsonl"))) if folder.is_dir() else []
        if files:
            sets[folder.name] = Path(str(files[0]))
    return sets


def resolve_needle_file(name_or_path: str) -> Path:
    """A path as given, or a ready set's file by name (`--needles builtin`)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    sets = ready_sets()
    if name_or_path in sets:
        return sets[name_or_path]
    hint = f" or a ready set: {', '.join(sorted(sets))}" if sets else ""
    raise NiahError(f"needle file '{name_or_path}' does not exist: give a .jsonl/.json path{hint}")


def _records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) for every needle in a JSON array or JSONL file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise NiahError(f"needle file '{path}' is not UTF-8 (byte {err.start}): save it as UTF-8, e.g. "
                        f"iconv -f latin1 -t utf-8 {path.name} > fixed.jsonl") from None  # fmt: skip
    if not text.strip():
        raise NiahError(f"needle file '{path}' is empty: write one JSON object per line")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise NiahError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
        records = [(f"{path}[{i}]", rec) for i, rec in enumerate(items)]
    else:
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append((f"{path}:{n}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise NiahError(f"{path}:{n}: not valid JSON ({err.msg})") from None
    for where, rec in records:
        if not isinstance(rec, dict):
            raise NiahError(f"{where}: a needle is a JSON object, got {type(rec).__name__}")
    return records


def parse_prompt(prompt: str) -> tuple[str, str, list[str]]:
    """(find clause, ask clause, options) from a LongVA / VideoRoPE prompt."""
    options, question = [], []
    for line in prompt.strip().splitlines():
        m = OPTION_LINE.match(line)
        if m and LETTERS.index(m.group(1)) == len(options):  # A, B, C, ... in order
            options.append(m.group(2))
            continue
        if line.strip() and not INSTRUCTION_LINE.match(line):
            question.append(line.strip())
    text = " ".join(question)
    if m := FIND_CLAUSE.match(text):
        return m.group(1), m.group(2), options
    return "", text, options


def _option_index(value: Any, options: list[str], where: str, what: str) -> int:
    """An option index from a JSON integer (index), an option's text or its letter."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise NiahError(f"{where}: {what} must be an option's text, its letter or its index, got {value!r}")
    if isinstance(value, int):
        if 0 <= value < len(options):
            return value
        raise NiahError(f"{where}: {what} index {value} is outside the {len(options)} options")
    if value in options:
        return options.index(value)
    letter = value.strip().rstrip(".").upper()
    if len(letter) == 1 and letter in LETTERS[: len(options)]:
        return LETTERS.index(letter)
    raise NiahError(f"{where}: {what} '{value}' is neither one of the options {options} nor a letter "
                    f"A-{LETTERS[len(options) - 1]}")  # fmt: skip


def _box(where: str, name: str, value: Any) -> tuple[int, int, int, int]:
    """A box [x0, y0, x1, y1] in pixels with x0 < x1 and y0 < y1, or a NiahError naming the field."""
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not (value[0] < value[2] and value[1] < value[3])):  # fmt: skip
        raise NiahError(f"{where}: '{name}' must be [x0, y0, x1, y1] in pixels with x0 < x1 and y0 < y1, got "
                        f"{json.dumps(value)[:40]}")  # fmt: skip
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def _image_path(base: Path, name: str) -> Path:
    path = base / name
    return path if path.exists() or not (base / "images" / name).exists() else base / "images" / name


TEXT_FIELDS = ("image", "path", "question", "prompt", "find", "ask", "id", "family", "key")
UNKNOWN_AS_NULL = ("key",)  # written as null by niah itself when not known (a user's needle)


def _check_types(where: str, rec: dict[str, Any]) -> None:
    """Fields given with the wrong JSON type are refused: a null find clause would read 'None', a
    string of options would be split into letters."""
    for name in TEXT_FIELDS:
        if name in rec and not isinstance(rec[name], str) and not (name in UNKNOWN_AS_NULL and rec[name] is None):
            raise NiahError(f"{where}: '{name}' must be text, got {json.dumps(rec[name])[:40]}")
    options = rec.get("options")
    if options is not None and not isinstance(options, list):
        raise NiahError(f"{where}: 'options' must be a list of texts, e.g. [\"red\", \"blue\"], got "
                        f"{json.dumps(options)[:40]}")  # fmt: skip
    if options is not None and not all(isinstance(o, str | int | float) and not isinstance(o, bool) for o in options):
        raise NiahError(f"{where}: 'options' must be a list of texts, got {json.dumps(options)[:60]}")


def _needle(where: str, rec: dict[str, Any], base: Path, n: int, width: int, height: int) -> Needle:
    _check_types(where, rec)
    image = rec.get("image") or rec.get("path")
    text = rec.get("question") or rec.get("prompt")
    if not image or not (text or rec.get("ask")) or "answer" not in rec:
        raise NiahError(f"{where}: a needle needs 'image' (or 'path'), 'question' (or 'prompt', or 'find' + 'ask') "
                        "and 'answer'")  # fmt: skip
    if rec.get("ask"):
        find, ask, options = str(rec.get("find", "")), str(rec["ask"]), []
    else:
        find, ask, options = parse_prompt(str(text))
    options = [str(o) for o in rec.get("options") or options] or [str(rec["answer"])]
    if len(options) > len(LETTERS):
        raise NiahError(f"{where}: {len(options)} options; at most {len(LETTERS)} (letters A-Z)")
    if len(set(options)) != len(options):
        raise NiahError(f"{where}: options {options} repeat one another")
    answer = _option_index(rec["answer"], options, where, "answer")
    distractors = _distractors(where, rec, options, answer, base, width, height)
    key_box, value_box = (_box(where, k, rec[k]) if rec.get(k) else None for k in ("key_box", "value_box"))
    needle_id = str(rec.get("id", f"user{n:03d}"))
    if not SAFE_ID.fullmatch(needle_id):
        raise NiahError(f"{where}: needle id {needle_id[:60]!r} cannot name a file: use 1-100 letters, digits, '.', "
                        "'_' or '-', not starting with '.' (ids name the needle's images in the dataset)")  # fmt: skip
    image_px = read_image(_image_path(base, image), width, height)
    return Needle(needle_id, str(rec.get("family", "user")), find, ask, options, answer, image_px, distractors,
                  key_box, value_box, rec.get("key"))  # fmt: skip


def _distractors(where: str, rec: dict[str, Any], options: list[str], answer: int, base: Path, width: int,
                 height: int) -> list[Distractor]:  # fmt: skip
    items: list[Any] = list(rec.get("distractors") or [])
    if rec.get("interrupt_path"):
        items.append(rec["interrupt_path"])
    legacy = list(rec.get("distractor_answers") or [])
    out = []
    for j, item in enumerate(items):
        spec = item if isinstance(item, dict) else {"image": item}
        if not spec.get("image"):
            raise NiahError(f"{where}: distractor {j} needs an 'image'")
        lure = spec.get("lure", legacy[j] if j < len(legacy) else None)
        if lure is not None and len(options) > 1:
            lure = _option_index(lure, options, where, f"distractor {j}'s lure")
        else:
            lure = None
        decoy = spec.get("decoy") is True
        if (lure == answer) != decoy:
            if decoy:
                raise NiahError(f"{where}: distractor {j} is marked a decoy but shows "
                                f"{'no known option' if lure is None else repr(options[lure])}, not the answer: "
                                "a decoy shows the answer's value")  # fmt: skip
            raise NiahError(f"{where}: distractor {j}'s lure '{options[lure]}' is the needle's answer: give it a "
                            'wrong option as its lure, or mark it "decoy": true if it fails the find clause on '
                            "purpose")  # fmt: skip
        image = read_image(_image_path(base, str(spec["image"])), width, height, "distractor image")
        key = spec.get("key")
        out.append(Distractor(image, lure, str(spec.get("kind", "user")), spec.get("satisfies_find"), decoy,
                              None if key is None else str(key)))
    return out


def load_needle_file(path: str | Path, width: int, height: int) -> list[Needle]:
    """Read needles in niah's, LongVA's or VideoRoPE's format; every problem is a NiahError naming the
    needle. Images are fitted to width × height pixels."""
    path = resolve_needle_file(str(path))
    if not path.is_file():
        raise NiahError(f"needle file '{path}' is not a file")
    needles = [_needle(where, rec, path.parent, n, width, height) for n, (where, rec) in enumerate(_records(path), 1)]
    ids = [n.id for n in needles]
    if len(set(ids)) != len(ids):
        raise NiahError(f"needle file '{path}' repeats the id '{next(i for i in ids if ids.count(i) > 1)}'")
    return needles


def needle_record(n: Needle) -> dict[str, Any]:
    """The niah-format record of a needle (image names relative to its folder)."""
    return {
        "id": n.id, "family": n.family, "find": n.find, "ask": n.ask, "question": n.question,
        "options": n.options, "answer": n.answer, "image": f"{n.id}.png",
        "key_box": list(n.key_box) if n.key_box else None, "value_box": list(n.value_box) if n.value_box else None,
        "key": n.key,
        "distractors": [
            {"image": f"{n.id}.d{j}.png", "lure": d.lure, "kind": d.kind, "satisfies_find": d.satisfies_find,
             "decoy": d.decoy, "key": d.key}
            for j, d in enumerate(n.distractors)
        ],
    }  # fmt: skip


def write_needle_set(folder: Path, needles: list[Needle], same_key: bool = False) -> Path:
    """Write `needles` to `folder` (created): one PNG per needle and distractor + needles.jsonl;
    with `same_key` also each needle's key beside every other option (`{id}.k{option}.png`, listed
    under "same_key": what the multi-key task shows). Returns the JSONL's path."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for n in needles:
        record = needle_record(n)
        write_png(folder / record["image"], n.image)
        for d, spec in zip(n.distractors, record["distractors"], strict=True):
            write_png(folder / spec["image"], d.image)
        if same_key and n.same_key:
            record["same_key"] = [{"image": f"{n.id}.k{o}.png", "value": o} for o, _ in n.same_key]
            for (_, image), spec in zip(n.same_key, record["same_key"], strict=True):
                write_png(folder / spec["image"], image)
        records.append(record)
    path = folder / NEEDLE_SET_FILE
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return path
