"""Reading the user's needles: niah's JSONL, LongVA's and VideoRoPE's JSON, and a dataset's own set."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from niah.backends.hf.prompt import question_text
from niah.cli import main
from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.data.inspect import questions
from niah.data.needle_files import load_needle_file, parse_prompt, ready_sets
from niah.errors import NiahError


def _draw(path, label: str) -> None:
    """A small image with a label drawn on it (the tests' stand-in for a photo)."""
    img = np.full((90, 160, 3), 200, np.uint8)
    cv2.putText(img, label, (10, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def test_videorope_format_is_read_as_it_is(tmp_path):
    # VideoRoPE's videorope_plus/v_ruler/data/v_niah_d.json: a JSON array of path, interrupt_path, prompt, answer.
    _draw(tmp_path / "images" / "bear.png", "bear")
    _draw(tmp_path / "images" / "bear_interrupt.png", "cafe")
    _draw(tmp_path / "images" / "pills.png", "200mg")
    _draw(tmp_path / "images" / "pills_interrupt.png", "2kg")
    records = [
        {"path": "bear.png", "interrupt_path": "bear_interrupt.png",
         "prompt": "Find the frame of a teddy bear. Where is this teddy bear?\nPlease provide your answer by stating "
                   "the letter followed by the full option.\nA. Taj Mahal\nB. Sydney Opera House\nC. Times Square\n"
                   "D. Eiffel Tower\nAnswer with the option's letter from the given choices directly.",
         "answer": "C"},
        {"path": "pills.png", "interrupt_path": "pills_interrupt.png",
         "prompt": "\nFind the frame with the image of Selenium tablets. How many mg does each tablet contain?\n"
                   "Answer the question using a single word or phrase.",
         "answer": "200"},
    ]  # fmt: skip
    (tmp_path / "v_niah_d.json").write_text(json.dumps(records, indent=4))
    bear, pills = load_needle_file(tmp_path / "v_niah_d.json", 64, 48)
    assert bear.find == "Find the frame of a teddy bear." and bear.ask == "Where is this teddy bear?"
    assert bear.options == ["Taj Mahal", "Sydney Opera House", "Times Square", "Eiffel Tower"] and bear.answer == 2
    assert len(bear.distractors) == 1 and bear.distractors[0].lure is None  # their files do not say
    assert not np.array_equal(bear.distractors[0].image, bear.image) and bear.image.shape == (48, 64, 3)
    assert pills.options == ["200"] and pills.answer == 0 and pills.ask == "How many mg does each tablet contain?"


def test_longva_and_niah_fields_with_lures(tmp_path):
    for name in ("needle.png", "d0.png", "d1.png"):
        _draw(tmp_path / name, name)
    lines = [
        {"image": "needle.png", "find": "Find the frame with a red star.", "ask": "What colour is the square?",
         "options": ["a", "b", "c", "d"], "answer": "C",
         "distractors": [{"image": "d0.png", "lure": "a"}, {"image": "d1.png", "lure": "D"}]},
        {"path": "needle.png", "prompt": "What is shown?", "answer": "a cat"},  # LongVA's fields, open question
        {"image": "needle.png", "question": "Which?", "options": ["a", "b"], "answer": 1, "distractors": ["d0.png"],
         "distractor_answers": [0], "id": "legacy"},
    ]  # fmt: skip
    (tmp_path / "needles.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    a, b, c = load_needle_file(tmp_path / "needles.jsonl", 64, 48)
    assert a.question == "Find the frame with a red star. What colour is the square?" and a.answer == 2
    assert [d.lure for d in a.distractors] == [0, 3]
    assert b.options == ["a cat"] and b.answer == 0 and b.distractors == [] and b.find == ""
    assert c.answer == 1 and [d.lure for d in c.distractors] == [0]


def test_an_open_question_is_asked_and_shown_as_longva_does(tmp_path):
    _draw(tmp_path / "pills.png", "200mg")
    rec = {"path": "pills.png", "prompt": "\nFind the frame with the image of Selenium tablets. How many mg does each "
           "tablet contain?\nAnswer the question using a single word or phrase.", "answer": "200"}  # LongVA's record
    (tmp_path / "open.json").write_text(json.dumps([rec]))
    (pills,) = load_needle_file(tmp_path / "open.json", 112, 56)
    asked = question_text(pills.question, pills.options)
    assert asked == ("Find the frame with the image of Selenium tablets. How many mg does each tablet contain?\n"
                     "Answer the question using a single word or phrase.")  # LongVA's prompt, its leading newline aside
    ds = Dataset(generate(tmp_path / "d", resolve_config("demo", needle_file=str(tmp_path / "open.json"), lengths="6",
                                                          depths="50", width=112, height=56)))  # fmt: skip
    shown = questions(ds)
    assert "open question, answer: 200" in shown and "A. 200" not in shown


def test_a_decoy_is_read_from_its_flag_and_a_false_one_refused(tmp_path):
    _draw(tmp_path / "n.png", "n")
    rec = {"image": "n.png", "question": "Q?", "options": ["a", "b", "c", "d"], "answer": "c",
           "distractors": [{"image": "n.png", "lure": "c", "decoy": True, "key": "blue star"}, {"image": "n.png",
                                                                                              "lure": "a"}]}
    (tmp_path / "n.jsonl").write_text(json.dumps(rec))
    (needle,) = load_needle_file(tmp_path / "n.jsonl", 64, 48)
    assert [(d.lure, d.decoy, d.key) for d in needle.distractors] == [(2, True, "blue star"), (0, False, None)]
    rec["distractors"][1]["decoy"] = True  # shows a lure, not the answer
    (tmp_path / "n.jsonl").write_text(json.dumps(rec))
    with pytest.raises(NiahError, match="marked a decoy but shows 'a'"):
        load_needle_file(tmp_path / "n.jsonl", 64, 48)


@pytest.mark.parametrize("lure,why", [("c", "is the needle's answer"), ("z", "neither one of the options"),
                                      (7, "outside the 4 options")])  # fmt: skip
def test_a_bad_lure_is_refused_with_why(tmp_path, lure, why):
    _draw(tmp_path / "n.png", "n")
    rec = {"image": "n.png", "question": "Q?", "options": ["a", "b", "c", "d"], "answer": "c",
           "distractors": [{"image": "n.png", "lure": lure}]}  # fmt: skip
    (tmp_path / "n.jsonl").write_text(json.dumps(rec))
    with pytest.raises(NiahError, match=why):
        load_needle_file(tmp_path / "n.jsonl", 64, 48)


def test_prompt_parsing_keeps_the_question_and_drops_instructions():
    prompt = ("Find the bus stop. What is next to the bench?\nAnswer with the option's letter from the given choices "
              "directly.\nA. plant pot\nB. dog\nAnswer with it.")
    find, ask, options = parse_prompt(prompt)
    assert (find, ask, options) == ("Find the bus stop.", "What is next to the bench?", ["plant pot", "dog"])
    assert parse_prompt("What colour is it?") == ("", "What colour is it?", [])


def test_a_datasets_needle_set_round_trips_through_needles(tmp_path):
    small = dict(width=112, height=56, lengths="8", depths="50", distractor_period=3)
    first = Dataset(generate(tmp_path / "a", resolve_config("demo", **small, needles=3, families="colour,count,word")))
    own = str(first.path / "needles/needles.jsonl")
    again = Dataset(generate(tmp_path / "b", resolve_config("demo", **small, needle_file=own)))
    assert again.needles == first.needles
    assert [c.insertions for c in again.cells] == [c.insertions for c in first.cells]


def test_more_than_four_options_run_end_to_end(tmp_path):
    for name in ("n.png", "d.png"):
        _draw(tmp_path / name, name)
    options = ["one", "two", "three", "four", "five", "six"]
    rec = {"image": "n.png", "question": "Find the red star. Which number?", "options": options, "answer": "six",
           "distractors": [{"image": "d.png", "lure": "five"}]}  # fmt: skip
    (tmp_path / "n.jsonl").write_text(json.dumps(rec))
    data, run = tmp_path / "data", tmp_path / "run"
    cli = [sys.executable, "-m", "niah"]
    subprocess.run([*cli, "generate", "--preset", "demo", "--needles", str(tmp_path / "n.jsonl"), "--lengths", "6",
                    "--depths", "50", "--width", "112", "--height", "56", "--out", data, "-q"], check=True)  # fmt: skip
    out = subprocess.run([*cli, "run", "--model", "probe", str(data), "--variants", "m-rope", "--out", str(run), "-q"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    records = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    (cell,) = [json.loads(x) for x in (data / "cells.jsonl").read_text().splitlines()]
    six, five = ("ABCDEF"[cell["order"].index(j)] for j in (5, 4))  # letters in the cell's option order
    assert sorted(cell["order"]) == list(range(6)) and {r["answer"] for r in records} == {six} and len(records) == 2
    assert all(r["prediction"] in (six, five, "-") for r in records)


def test_ready_needle_sets_ship_and_load():
    sets = ready_sets()
    assert {"builtin", "videorope-example"} <= set(sets)
    needles = load_needle_file("builtin", 112, 56)
    assert {n.family for n in needles} >= {"colour", "shape", "count", "position", "number", "word"}
    assert all(len(n.distractors) == 15 and n.key for n in needles)  # the built-in design, keys recorded
    assert all(d.lure is not None and (d.lure == n.answer) == d.decoy and d.key for n in needles for d in n.distractors)
    example = load_needle_file("videorope-example", 112, 56)
    assert all(n.find.startswith("Find") and len(n.distractors) == 1 for n in example)


@pytest.mark.parametrize("needle_id", ["../../../x", "a/b", "nul\x00here", "x" * 300, ".hidden", ""])
def test_a_needle_id_that_cannot_name_a_file_is_refused(tmp_path, needle_id):
    _draw(tmp_path / "n.png", "n")
    (tmp_path / "n.jsonl").write_text(json.dumps({"id": needle_id, "image": "n.png", "question": "Q?",
                                                  "options": ["a", "b"], "answer": "a"}))  # fmt: skip
    out = tmp_path / "deep" / "er" / "data"
    res = CliRunner().invoke(main, ["generate", "--preset", "demo", "--needles", str(tmp_path / "n.jsonl"),
                                    "--lengths", "4", "--depths", "50", "--out", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 2 and "cannot name a file" in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.rglob("x.png")) and not list(tmp_path.rglob("*.d0.png"))


@pytest.mark.parametrize("field,value,why", [
    ("find", None, "'find' must be text"),
    ("ask", 3, "'ask' must be text"),
    ("options", "abcd", "'options' must be a list"),
    ("options", ["a", None], "'options' must be a list of texts"),
    ("question", ["Q?"], "'question' must be text"),
])  # fmt: skip
def test_needle_fields_of_the_wrong_type_are_refused(tmp_path, field, value, why):
    _draw(tmp_path / "n.png", "n")
    rec = {"image": "n.png", "find": "Find the frame with a red star.", "ask": "What colour?",
           "options": ["a", "b", "c", "d"], "answer": "b", field: value}  # fmt: skip
    if field == "question":
        rec.pop("ask")
    (tmp_path / "n.jsonl").write_text(json.dumps(rec))
    with pytest.raises(NiahError, match=why):
        load_needle_file(tmp_path / "n.jsonl", 64, 48)


def test_a_needles_file_that_is_not_utf8_is_one_line(tmp_path):
    _draw(tmp_path / "n.png", "n")
    text = json.dumps({"image": "n.png", "question": "Qué?", "options": ["a", "b"], "answer": "a"}, ensure_ascii=False)
    (tmp_path / "n.jsonl").write_bytes(text.encode("latin-1"))
    with pytest.raises(NiahError, match="not UTF-8"):
        load_needle_file(tmp_path / "n.jsonl", 64, 48)


@pytest.mark.parametrize("box", [5, [1, 2, 3], ["a", 0, 1, 1], [10, 10, 5, 20]])
def test_a_bad_box_is_one_line(tmp_path, box):
    _draw(tmp_path / "n.png", "n")
    (tmp_path / "n.jsonl").write_text(json.dumps({"image": "n.png", "question": "Q?", "options": ["a", "b"],
                                                  "answer": "a", "key_box": box}))  # fmt: skip
    with pytest.raises(NiahError, match="key_box"):
        load_needle_file(tmp_path / "n.jsonl", 64, 48)


def test_a_user_needle_set_round_trips_through_a_datasets_needles_file(tmp_path):
    """A dataset writes "key": null for a user's needle (its key is not known); reading that file
    back must not call it a wrong type."""
    _draw(tmp_path / "n.png", "n")
    (tmp_path / "n.jsonl").write_text(json.dumps({"image": "n.png", "question": "Q?", "options": ["a", "b"],
                                                  "answer": "a"}))  # fmt: skip
    small = dict(width=112, height=56, lengths="8", depths="50")
    first = Dataset(generate(tmp_path / "a", resolve_config("demo", **small, needle_file=str(tmp_path / "n.jsonl"))))
    own = str(first.path / "needles/needles.jsonl")
    again = Dataset(generate(tmp_path / "b", resolve_config("demo", **small, needle_file=own)))
    assert again.needles == first.needles
