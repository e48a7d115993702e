"""A full disk in generate, run and plot: one line naming the path and the space, exit 2, nothing
half-written, and the rerun resumes (issue 17 items 3 and 7)."""

from __future__ import annotations

import errno
import json

import matplotlib.figure
from click.testing import CliRunner

import niah.sweep.store
from niah.cli import main
from niah.data import generate as generate_module


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def one_error_line(res, *says):
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and all(s in lines[0] for s in says), res.output


def test_generate_on_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(generate_module, "write_needle_set", enospc)
    res = cli("generate", "--preset", "demo", "--lengths", "8", "--depths", "50", "--width", 112, "--height", 56,
              "--out", tmp_path / "d", "-q")  # fmt: skip
    one_error_line(res, "no space left writing dataset", str(tmp_path / "d"), "MB written", "MB free", "rerun")
    assert list(tmp_path.iterdir()) == []  # no dataset, no temporary folder


class FillingFile:
    """A results file on a disk that fills after `room` lines."""

    room = 3

    def __init__(self, path, mode, encoding=None):
        self.file = open(path, mode, encoding=encoding)  # noqa: SIM115

    def write(self, text):
        if FillingFile.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        FillingFile.room -= 1
        return self.file.write(text)

    def flush(self):
        self.file.flush()

    def close(self):
        self.file.close()


def test_run_on_a_full_disk_stops_in_one_line_and_resumes(small_dataset, tmp_path, monkeypatch):
    run = tmp_path / "r"
    args = ("run", "--model", "probe",
            small_dataset, "--out", run, "--variants", "vanilla", "--tasks", "v-niah", "--limit", "6", "-q")
    def filling_open(path, mode, **kw):
        return FillingFile(path, mode, **kw) if "results" in str(path) else open(path, mode, **kw)  # noqa: SIM115

    monkeypatch.setattr(niah.sweep.store, "open", filling_open, raising=False)
    one_error_line(cli(*args), "cannot write", str(run / "results.jsonl"), "No space left", "MB free", "rerun")
    monkeypatch.undo()
    assert len((run / "results.jsonl").read_text().splitlines()) == 3
    assert cli(*args).exit_code == 0
    keys = [json.loads(x)["key"] for x in (run / "results.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 6  # the first 6 cells, every sample once


def test_plot_on_a_full_disk_or_with_a_bad_diff_leaves_no_half_written_figure(small_dataset, tmp_path, monkeypatch):
    run = tmp_path / "r"
    assert cli("run", "--model", "probe",
               small_dataset, "--out", run, "--variants", "vanilla,m-rope", "--limit", "4", "-q").exit_code == 0
    res = cli("plot", run, "--out", tmp_path / "bad", "--diff", "vanilla,videorope")
    one_error_line(res, "--diff variant 'videorope' is not in the runs")
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())

    real, calls = matplotlib.figure.Figure.savefig, []

    def fills_on_third(self, fname, **kwargs):
        calls.append(fname)
        if len(calls) == 3:
            with open(fname, "wb") as f:
                f.write(b"\x89PNG half")  # the disk fills mid-file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, fname, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fills_on_third)
    out = tmp_path / "figs"
    one_error_line(cli("plot", run, "--out", out), "cannot write", "No space left", "MB free")
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 and all(name.endswith(".png") and not name.startswith(".") for name in written)
    assert all(len((out / name).read_bytes()) > 1000 for name in written)  # whole figures only
