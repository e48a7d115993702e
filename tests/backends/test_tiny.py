"""`--model tiny:DIR`: trained tiny models run through the normal engine; bad paths are one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from niah.cli import main
from niah.train.run import train_all
from niah.train.trainer import CONFIG, STATE, WEIGHTS

SMALL = ["--preset", "demo", "--width", "112", "--height", "56", "--lengths", "4,6", "--depths", "0,100", "-q"]


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    train_all(out, ["vanilla", "m-rope"], [0], steps=2, lengths=[2], threads=1)
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A dataset with one needle the tiny models can see (colour) and one they cannot (number)."""
    out = tmp_path_factory.mktemp("data") / "mixed"
    assert cli("generate", "--out", out, *SMALL, "--families", "colour,number").exit_code == 0
    return out


def test_run_evaluates_the_needles_it_can_see_and_names_the_rest(models, mixed, tmp_path):
    res = cli("run", mixed, "--model", f"tiny:{models}", "--variants", "vanilla,m-rope", "--out", tmp_path / "r", "-q")
    assert res.exit_code == 0, res.output
    assert "skipping what tiny cannot answer (v-niah, v-niah-d on n001-number: family number" in res.output
    records = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 2 * 2 * 2  # lengths × depths × variants × tasks, colour needle only
    assert {r["needle"] for r in records} == {"n000-colour"} and {r["model_seed"] for r in records} == {0}
    assert all(r["prediction"] in "ABCD" and len(r["scores"]["option_logprobs"]) == 4 for r in records)
    assert {r["lured"] for r in records if r["task"] == "v-niah-d"} <= {True, False}


def test_a_dataset_of_needles_it_cannot_see_is_refused(models, tmp_path):
    assert cli("generate", "--out", tmp_path / "d", *SMALL, "--families", "number,word").exit_code == 0
    res = cli("run", tmp_path / "d", "--model", f"tiny:{models}", "--variants", "vanilla", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "tiny can answer no sample" in res.output
    assert not (tmp_path / "r").exists()


def test_bad_tiny_models_are_one_line_and_exit_2(models, mixed, tmp_path):
    broken = tmp_path / "broken" / "vanilla-s0"
    broken.mkdir(parents=True)
    (broken / CONFIG).write_text("{not json")
    unfinished = tmp_path / "unfinished"
    train_all(unfinished, ["vanilla"], [0], steps=2, lengths=[2], threads=1)
    (unfinished / "vanilla-s0" / STATE).write_text("")
    cases = [
        (f"tiny:{tmp_path / 'nowhere'}", "vanilla", "does not exist"),
        (f"tiny:{tmp_path}", "vanilla", "holds no tiny models"),
        (f"tiny:{tmp_path / 'broken'}", "vanilla", "is not a tiny model config"),
        (f"tiny:{unfinished}", "vanilla", "is not finished training"),
        (f"tiny:{models}", "videorope", "no tiny model of videorope"),
        (f"tiny:{models},seed=3", "vanilla", "has no models of seed 3"),
        (f"tiny:{models},heads=2", "vanilla", "unknown tiny option"),
    ]
    for model, variant, message in cases:
        res = cli("run", mixed, "--model", model, "--variants", variant, "--out", tmp_path / "r")
        assert res.exit_code == 2 and message in res.output, (model, res.output)
        assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_a_finished_model_runs_while_another_of_its_folder_still_trains(mixed, tmp_path):
    folder = tmp_path / "models"
    train_all(folder, ["vanilla", "m-rope"], [0], steps=2, lengths=[2], threads=1)
    (folder / "m-rope-s0" / STATE).write_text("")  # m-rope is mid-training,
    (folder / "m-rope-s0" / WEIGHTS).unlink()  # before its weights were first written
    res = cli("run", mixed, "--model", f"tiny:{folder}", "--variants", "vanilla", "--out", tmp_path / "r", "-q")
    assert res.exit_code == 0, res.output
    res = cli("run", mixed, "--model", f"tiny:{folder}", "--variants", "m-rope", "--out", tmp_path / "r2", "-q")
    assert res.exit_code == 2 and "is not finished training" in res.output


def test_a_copied_models_folder_resumes_its_runs_and_other_weights_are_refused(models, mixed, tmp_path):
    """Models are recognised by their weights' sha256, as datasets by their manifest: a run made with
    one folder resumes (and grows) with a byte-identical copy; other weights are refused."""
    import shutil

    first = shutil.copytree(models, tmp_path / "first")
    out = tmp_path / "r"
    assert cli("run", mixed, "--model", f"tiny:{first}", "--variants", "vanilla", "--out", out, "-q").exit_code == 0
    lines = (out / "results.jsonl").read_text()
    moved = shutil.move(first, tmp_path / "moved")
    res = cli("run", mixed, "--model", f"tiny:{moved}", "--variants", "vanilla", "--out", out, "-q")
    assert res.exit_code == 0, res.output
    assert (out / "results.jsonl").read_text() == lines  # nothing recomputed
    res = cli("run", mixed, "--model", f"tiny:{moved}", "--variants", "vanilla,m-rope", "--out", out, "-q")
    assert res.exit_code == 0, res.output  # grows with a model of another variant
    other = shutil.copytree(moved, tmp_path / "other")
    weights = other / "vanilla-s0" / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))
    res = cli("run", mixed, "--model", f"tiny:{other}", "--variants", "vanilla", "--out", out, "-q")
    assert res.exit_code == 2 and "weights" in res.output
