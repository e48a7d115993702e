"""Figures rendered from a small fixed results file, checked by their pixels and text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.collections import QuadMesh
from matplotlib.colors import to_rgb
from matplotlib.text import Text

from niah.cli import main
from niah.plot.heatmaps import GREEN, MISSING, RED, difference_figure, grid_figure, heatmap_figure
from niah.plot.results import axes_of, grid, load_runs
from niah.plot.style import plt

LENGTHS, DEPTHS = [10, 20, 30], [0, 50, 100]


def record(variant, task, length, depth, needle, correct):
    return {"key": f"{task}|{variant}|L{length}-d{depth}-{needle}", "task": task, "variant": variant,
            "model": "probe", "length": length, "depth": depth, "needle": needle, "correct": correct,
            "status": "ok"}  # fmt: skip


def make_run(path, records, dataset_hash="abc"):
    path.mkdir(parents=True)
    config = {"dataset": "/data/x", "dataset_manifest_sha256": dataset_hash,
              "variants": sorted({r["variant"] for r in records})}  # fmt: skip
    (path / "run.json").write_text(json.dumps({"config": config}))
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def fixed_records(variant="m-rope", task="v-niah"):
    """(10, 0%) all right → 1.0; (20, 50%) all wrong → 0.0; (30, 100%) missing; others half."""
    out = []
    for length in LENGTHS:
        for depth in DEPTHS:
            if (length, depth) == (30, 100):
                continue
            for n, needle in enumerate(("a", "b")):
                correct = True if (length, depth) == (10, 0) else False if (length, depth) == (20, 50) else n == 0
                out.append(record(variant, task, length, depth, needle, correct))
    return out


def pixel_at(fig, ax, x, y):
    """RGB (0-1) of the rendered figure at data coordinates (x, y) of `ax`."""
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0
    px, py = ax.transData.transform((x, y))
    return img[img.shape[0] - int(round(py)), int(round(px))]


def close(rgb, colour, tol=0.06):
    return np.abs(np.asarray(rgb) - np.asarray(to_rgb(colour))).max() < tol


@pytest.fixture
def g():
    recs = fixed_records()
    lengths, depths = axes_of(recs)
    return grid(recs, lengths, depths, "probe")  # records without `metrics`: the probe's retrieval


def test_heatmap_cells_are_green_red_and_missing(g):
    assert g.lengths == LENGTHS and g.depths == DEPTHS
    fig = heatmap_figure(g, "m-rope · v-niah")
    ax = fig.axes[0]
    assert close(pixel_at(fig, ax, 0.5, 0.5), GREEN)  # (10 frames, 0 %) = 1.0
    assert close(pixel_at(fig, ax, 1.5, 1.5), RED)  # (20 frames, 50 %) = 0.0
    missing = pixel_at(fig, ax, 2.5, 2.5)  # (30 frames, 100 %): no samples
    assert not close(missing, GREEN, 0.15) and not close(missing, RED, 0.15)
    assert close(missing, MISSING, 0.15) or close(missing, "#BBBBBB", 0.15)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "20", "30"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "50", "100"]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # depth 0 at the top
    assert "probe retrieval 0.500" in ax.get_title()  # 8 of 16 samples right, the metric by name
    plt.close(fig)


def test_text_is_readable_at_column_width(g):
    fig = heatmap_figure(g, "m-rope · v-niah")
    assert fig.get_size_inches()[0] <= 3.5
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    sizes = [t.get_window_extent(renderer).height * 72 / fig.dpi
             for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]  # fmt: skip
    assert sizes and min(sizes) >= 6.0, min(sizes)
    plt.close(fig)


def test_grid_shares_one_colour_scale_and_difference_is_centred(g):
    fig = grid_figure({("a", "v-niah"): g, ("b", "v-niah"): g}, ["a", "b"], ["v-niah"], "probe")
    meshes = [c for ax in fig.axes for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) >= 2
    assert {m.get_clim() for m in meshes} == {(0.0, 1.0)}
    plt.close(fig)
    fig = difference_figure(g, g, "a − a")
    ax = fig.axes[0]
    assert ax.collections[0].get_clim() == (-1.0, 1.0)
    assert np.all(pixel_at(fig, ax, 0.5, 0.5) > 0.9)  # zero difference = white
    plt.close(fig)


def test_plot_cli_writes_every_kind_and_tables(tmp_path):
    recs = fixed_records("m-rope", "v-niah") + fixed_records("videorope", "v-niah") + fixed_records(
        "m-rope", "v-niah-d")  # fmt: skip
    run = make_run(tmp_path / "run", recs)
    res = CliRunner().invoke(main, ["plot", str(run), "--out", str(tmp_path / "f"), "--format", "png,svg"])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "f").iterdir()}
    assert {"grid_probe.png", "grid_probe.svg", "accuracy_vs_length_probe.png", "summary.md", "summary.csv",
            "summary.tex"} <= names  # fmt: skip
    assert any(n.startswith("diff_probe_videorope_m-rope_v-niah") for n in names)
    table = (tmp_path / "f" / "summary.md").read_text()
    assert "| probe | m-rope | probe retrieval | 0.500 [0.01, 0.99] (16) | 0.500 [0.01, 0.99] (16) |" in table
    assert r"\begin{tabular}" in (tmp_path / "f" / "summary.tex").read_text()


def test_bad_plot_input(tmp_path):
    empty = make_run(tmp_path / "empty", [])
    a = make_run(tmp_path / "a", fixed_records(), "hash-a")
    b = make_run(tmp_path / "b", fixed_records(), "hash-b")
    (tmp_path / "nothing").mkdir()
    for args, needle in [
        ([str(tmp_path / "nothing")], "is not a niah run dir"),
        ([str(tmp_path)], "has no finished samples"),  # a folder of run dirs stands for them, empty one included
        ([str(empty)], "has no finished samples"),
        ([str(a), str(b)], "different datasets"),
        ([str(a), "--format", "jpg"], "unknown figure format 'jpg'"),
    ]:
        res = CliRunner().invoke(main, ["plot", *args, "--out", str(tmp_path / "f")])
        assert res.exit_code == 2 and needle in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_load_runs_keeps_the_variant_order_of_the_run(tmp_path):
    run = make_run(tmp_path / "r", fixed_records("z-variant") + fixed_records("a-variant"))
    config = json.loads((run / "run.json").read_text())
    config["config"]["variants"] = ["z-variant", "a-variant"]
    (run / "run.json").write_text(json.dumps(config))
    assert load_runs([run])[1] == ["z-variant", "a-variant"]


def test_runs_of_several_model_seeds_show_mean_and_spread(tmp_path):
    runs = []
    for seed, right in ((0, {"a"}), (1, {"a", "b"}), (2, set())):  # per-seed accuracy 0.5, 1.0, 0.0
        recs = [dict(r, model_seed=seed, correct=r["needle"] in right) for r in fixed_records()]
        runs.append(str(make_run(tmp_path / f"s{seed}", recs)))
    res = CliRunner().invoke(main, ["plot", *runs, "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    table = (tmp_path / "f" / "summary.md").read_text()
    # Student's t over the seeds' means 0.5, 1.0, 0.0: 0.5 ± 4.30 · 0.5 / √3 = 0.5 ± 1.24, clipped to [0, 1]
    assert "| probe | m-rope | probe retrieval | 0.500 ± 0.500 [0.00, 1.00] (48, 3 seeds) |" in table


def test_lure_rates_of_several_model_seeds_show_mean_and_spread(tmp_path):
    runs = []
    for seed, lured in ((0, {"a"}), (1, {"a", "b"}), (2, set())):  # per-seed lure rate 0.5, 1.0, 0.0
        recs = [dict(r, model_seed=seed, correct=r["needle"] not in lured, lured=r["needle"] in lured)
                for r in fixed_records(task="v-niah-d")]  # fmt: skip
        runs.append(str(make_run(tmp_path / f"s{seed}", recs)))
    res = CliRunner().invoke(main, ["plot", *runs, "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    assert "| 0.500 ± 0.500 [0.00, 1.00] |" in (tmp_path / "f" / "summary.md").read_text()  # as above


def test_identical_accuracy_lines_are_drawn_once_and_named_together():
    from niah.plot.heatmaps import length_figure

    same = ([8, 16], [1.0, 1.0])
    fig = length_figure({("vanilla", "v-niah"): same, ("m-rope", "v-niah"): same,
                         ("m-rope", "v-niah-d"): ([8, 16], [0.5, 0.25])}, "probe", "probe retrieval")  # fmt: skip
    lines = fig.axes[0].get_lines()
    labels = sorted(line.get_label().replace("\n", " ") for line in lines)
    assert labels == ["m-rope · v-niah = vanilla · v-niah", "m-rope · v-niah-d"]
    plt.close(fig)


def exact_match_records(model="hf:mine"):
    """fixed_records as an hf run records them: every metric by name, exact match the primary."""
    return [dict(r, model=model, metric="exact_match", metrics={
        "exact_match": {"prediction": "A" if r["correct"] else "", "correct": r["correct"], "lured": None},
        "mc": {"prediction": "A", "correct": True, "lured": None}}) for r in fixed_records()]  # fmt: skip


def test_a_run_beside_a_papers_cells_keeps_its_own_grid_and_the_papers_metric(tmp_path):
    """`niah plot RUN references/videorope` put every heatmap on the union of both grids (mostly
    hatched): each model now keeps its own lengths and depths, and the plot says so. Both sides are
    drawn in the papers' metric, exact match, named in every title; the run's mc is never drawn
    beside the paper's exact match."""
    import warnings

    from niah.plot.results import model_grids

    references = Path(__file__).resolve().parents[2] / "references" / "videorope" / "m-rope"
    run = make_run(tmp_path / "r", exact_match_records())
    records, _ = load_runs([run, references])
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        grids = model_grids(records, "exact_match")
    assert any("each model's figures are drawn on its own lengths and depths" in str(w.message) for w in said)
    for (model, _, _), g in grids.items():
        mine = [r for r in records if r["model"] == model]
        assert g.lengths == sorted({r["length"] for r in mine}) and g.depths == sorted({r["depth"] for r in mine})
        assert not np.isnan(g.accuracy).all(axis=0).any()  # no length column without a sample
    assert grids[("hf:mine", "m-rope", "v-niah")].overall == pytest.approx(0.5)  # exact match, not mc's 1.0
    res = CliRunner().invoke(main, ["plot", str(run), str(references), "--out", str(tmp_path / "f"),
                                    "--format", "svg"])  # fmt: skip
    assert res.exit_code == 0 and "own lengths and depths" in res.output
    assert "exact match" in (tmp_path / "f" / "heatmap_hf-mine_m-rope_v-niah.svg").read_text()
    assert "| hf:mine | m-rope | exact match | 0.500 [0.01, 0.99] (16) |" in (tmp_path / "f" / "summary.md").read_text()
    res = CliRunner().invoke(main, ["plot", str(run), str(references), "--out", str(tmp_path / "g"),
                                    "--metric", "mc"])  # fmt: skip
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert "--metric mc is not in every run" in res.output and "(published cells)" in res.output
    assert "pass --metric exact_match" in res.output and not (tmp_path / "g").exists()


def test_runs_of_different_metrics_are_never_drawn_under_one_label(tmp_path):
    probe = make_run(tmp_path / "p", fixed_records())  # an old probe run: `correct` is the probe's retrieval
    mine = make_run(tmp_path / "m", exact_match_records())
    res = CliRunner().invoke(main, ["plot", str(probe), str(mine), "--out", str(tmp_path / "f")])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert "the runs record different metrics (hf:mine: exact_match, mc; probe: probe)" in res.output
    assert "plot them apart" in res.output
    res = CliRunner().invoke(main, ["plot", str(mine), "--out", str(tmp_path / "f"), "--metric", "mc"])
    assert res.exit_code == 0 and "| hf:mine | m-rope | multiple choice | 1.000 [0.16, 1.00] (16) |" in (
        tmp_path / "f" / "summary.md").read_text()  # fmt: skip


def test_score_vs_length_shades_each_lines_interval_per_length(tmp_path):
    """Every number with its uncertainty: the line's 95 % interval per length is the shaded band, and
    plot_runs computes it as niah.stats.clustered_bounds does on that length's records."""
    from niah.plot.heatmaps import length_figure
    from niah.plot.report import _column_intervals
    from niah.plot.results import grid
    from niah.stats import clustered_bounds

    fig = length_figure({("m-rope", "v-niah"): ([8, 16], [0.9, 0.5])}, "probe", "probe retrieval",
                        {("m-rope", "v-niah"): [(0.8, 0.97), (0.3, 0.7)]})  # fmt: skip
    (band,) = fig.axes[0].collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert min(ys) == pytest.approx(0.3) and max(ys) == pytest.approx(0.97)
    from niah.plot.results import choose_metric

    recs = fixed_records()
    metric = choose_metric(recs, None)
    lengths = sorted({r["length"] for r in recs})
    g = grid(recs, lengths, sorted({r["depth"] for r in recs}), metric)
    for length, interval in zip(lengths, _column_intervals(recs, g, metric), strict=True):
        mine = [r for r in recs if r["length"] == length]
        expected = clustered_bounds([float(r["correct"]) for r in mine], [str(r["needle"]) for r in mine])
        assert interval == pytest.approx(expected)
