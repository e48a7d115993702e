"""`niah generate` / `niah inspect` through the CLI, bad input included."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from niah.cli import main

FAST = ["--preset", "demo", "--lengths", "8,16", "--width", "112", "--height", "56", "-q"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_generate_then_inspect_with_sheet(tmp_path):
    res = run("generate", "--out", tmp_path / "d", *FAST)
    assert res.exit_code == 0, res.output
    assert "cells        16" in res.output
    res = run("inspect", tmp_path / "d", "--sheet", tmp_path / "sheet.png")
    assert res.exit_code == 0 and (tmp_path / "sheet.png").stat().st_size > 1000


def assert_clean_failure(res, tmp_path, needle: str):
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.output
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_bad_inputs_fail_in_one_line_and_leave_nothing(tmp_path):
    out = tmp_path / "out"
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    bad_img = tmp_path / "bad.jsonl"
    (tmp_path / "notimage.png").write_text("not an image")
    bad_img.write_text(json.dumps({"image": "notimage.png", "question": "q", "answer": "a"}))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["--video", tmp_path / "missing.mp4"], "does not exist"),
        (["--video", corrupt], "corrupt"),
        (["--depths", "0,50,120"], "depth 120 is outside 0–100"),
        (["--lengths", "10:a:2"], "bad lengths"),
        (["--needles", empty], "is empty"),
        (["--needles", bad_img], "is not a readable image"),
        (["--preset", "demoo"], "did you mean demo"),
    ]
    for extra, needle in cases:
        assert_clean_failure(run("generate", "--out", out, *FAST, *extra), tmp_path, needle)
    res = run("generate", "--out", blocker / "sub", *FAST)
    assert res.exit_code == 2 and "cannot write" in res.output and len(res.output.strip().splitlines()) == 1


def test_too_short_video_names_both_numbers(tmp_path):
    from data.test_sources import numbered_video

    video = numbered_video(tmp_path / "v.mp4", 10, fps=1)
    res = run("generate", "--out", tmp_path / "out", *FAST, "--video", video)
    assert_clean_failure(res, tmp_path, "gives 10 frames at 1 fps but the longest haystack asked for is 16")


def test_existing_other_dir_is_refused_without_force(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("precious")
    res = run("generate", "--out", tmp_path / "out", *FAST)
    assert res.exit_code == 2 and "--force" in res.output
    assert (tmp_path / "out" / "thesis.tex").read_text() == "precious"


def test_force_replaces_a_dataset_but_never_deletes_other_files(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("precious")
    res = run("generate", "--out", tmp_path / "out", *FAST, "--force")
    assert res.exit_code == 2 and "not a niah dataset" in res.output
    assert (tmp_path / "out" / "thesis.tex").read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left behind
    assert run("generate", "--out", tmp_path / "d", *FAST).exit_code == 0
    assert run("generate", "--out", tmp_path / "d", *FAST, "--seed", "3", "--force").exit_code == 0
    assert '"seed": 3' in (tmp_path / "d" / "manifest.json").read_text()


def test_inspect_of_a_non_dataset(tmp_path):
    res = run("inspect", tmp_path)
    assert res.exit_code == 2 and "is not a niah dataset" in res.output


def test_a_rerun_removes_what_a_killed_generate_left_and_keeps_a_live_ones(tmp_path):
    dead = tmp_path / ".out.tmp-999999999-abcd"  # no such process
    live = tmp_path / f".out.tmp-{os.getpid()}-efgh"
    for d in (dead, live):
        d.mkdir()
        (d / "haystack.mp4").write_bytes(b"partial")
    assert run("generate", "--out", tmp_path / "out", *FAST).exit_code == 0
    assert not dead.exists() and live.exists()


def test_dataset_dirs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert run("generate", "--out", tmp_path / "out", *FAST).exit_code == 0
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_a_period_too_long_for_the_haystacks_is_warned_about(tmp_path):
    res = run("generate", "--out", tmp_path / "a", *FAST, "--distractor-period", "200")
    assert res.exit_code == 0
    assert "warning: 16 of 16 cells (lengths 8, 16 frames) hold fewer than 2 look-alikes" in res.output
    assert "period of at most 2 frames" in res.output
    ok = run("generate", "--out", tmp_path / "b", *FAST, "--distractor-period", "2")
    assert ok.exit_code == 0 and "warning" not in ok.output


def test_a_family_left_out_by_too_few_needles_is_warned_about(tmp_path):
    res = run("generate", "--out", tmp_path / "a", *FAST, "--families", "colour,shape,count", "--needles-per-cell", "2")
    assert res.exit_code == 0 and "warning: no needle of count: 2 needles cycle over 3 families" in res.output
    ok = run("generate", "--out", tmp_path / "b", *FAST, "--families", "colour,shape,count", "--needles-per-cell", "3")
    assert ok.exit_code == 0 and "no needle of" not in ok.output


def test_built_in_needle_options_are_refused_beside_a_needle_file(tmp_path):
    res = run("generate", "--out", tmp_path / "out", *FAST, "--needles", "builtin", "--distractor-kind", "scene")
    assert res.exit_code == 2 and "distractor_kind shape built-in needles only" in res.output
    assert not (tmp_path / "out").exists()
    assert run("generate", "--out", tmp_path / "ok", *FAST, "--needles", "builtin").exit_code == 0


def test_single_mode_warns_only_about_cells_without_a_look_alike(tmp_path):
    res = run("generate", "--out", tmp_path / "a", *FAST, "--distractor-mode", "single", "--distractor-period", "6",
              "--depths", "0,50,100")
    assert res.exit_code == 0, res.output
    # 8 frames: depth 50 (slot 4) fits neither 4 - 6 nor 4 + 6; 16 frames: every depth fits one side
    assert "warning: 2 of 12 cells (lengths 8 frames) hold no look-alike: VideoRoPE's released rule" in res.output


def test_a_non_finite_fps_is_refused_in_one_line(tmp_path):
    for fps in ("nan", "inf"):
        res = run("generate", "--out", tmp_path / "out", *FAST, "--fps", fps)
        assert_clean_failure(res, tmp_path, "fps must be a positive number")


def test_an_fps_no_mp4_can_carry_is_refused(tmp_path):
    res = run("generate", "--out", tmp_path / "out", *FAST, "--fps", "1e-9")  # was written as a 24 fps MP4
    assert_clean_failure(res, tmp_path, "cannot be an MP4's frame rate")
    ok = run("generate", "--out", tmp_path / "ok", *FAST, "--fps", "0.5")
    assert ok.exit_code == 0, ok.output


def test_impossible_sizes_are_refused_before_any_work(tmp_path):
    for args, why in ((["--lengths", "1:100000000:1"], "at most 1,000,000"),
                      (["--width", "100000", "--height", "100000"], "at most 4096 pixels a side"),
                      (["--lengths", "1:999999:1", "--depths", "0:100:1"], "cells")):  # fmt: skip
        res = run("generate", "--out", tmp_path / "out", *FAST, *args)
        assert_clean_failure(res, tmp_path, why)


def test_a_needle_image_too_small_to_show_anything_is_refused(tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "one.png"), np.zeros((1, 1, 3), np.uint8))
    (tmp_path / "one.jsonl").write_text(json.dumps({"image": "one.png", "question": "Q?", "options": ["a", "b"],
                                                   "answer": "a"}))  # fmt: skip
    res = run("generate", "--out", tmp_path / "out", *FAST, "--needles", tmp_path / "one.jsonl")
    assert_clean_failure(res, tmp_path, "is 1x1 pixels")


def test_a_sheet_and_a_checkpoint_dir_that_cannot_be_written_are_one_line(tmp_path):
    """Both gave tracebacks (a read-only folder as a non-root user, or a file in the way: same path)."""
    assert run("generate", "--out", tmp_path / "d", *FAST).exit_code == 0
    (tmp_path / "afile").write_text("in the way")
    for args in (["inspect", tmp_path / "d", "--sheet", tmp_path / "afile" / "s.png"],
                 ["train", "--out", tmp_path / "afile" / "m", "--steps", "1", "-q"]):  # fmt: skip
        res = run(*args)
        assert res.exit_code == 2, (args, res.output)  # inspect prints its summary first: the error is one line
        assert res.output.strip().splitlines()[-1].startswith("error: cannot write")
        assert sum("cannot write" in line for line in res.output.splitlines()) == 1
