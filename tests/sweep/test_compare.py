"""`niah compare`: paired differences with intervals and p-values on run dirs, and difference maps
that grey out what the test does not resolve."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from niah.cli import main
from niah.plot.report import unresolved_cells
from niah.plot.results import grid
from niah.sweep.compare import Side, compare

LENGTHS, DEPTHS = (16, 32), (0, 25, 50, 75, 100)


def records(rng, variant, needles=40, shift=0.0, model="hf:m", q=None):
    """One sample per (needle, length, depth); needle g right with probability q_g − shift."""
    q = np.clip(0.5 + rng.uniform(-0.35, 0.35, needles), 0, 1) if q is None else q
    out = []
    for g in range(needles):
        for length in LENGTHS:
            for depth in DEPTHS:
                right = bool(rng.random() < np.clip(q[g] - shift, 0, 1))
                cell = f"L{length}-d{depth}-n{g:03d}"
                out.append({"key": f"v-niah|{variant}|{cell}", "task": "v-niah", "variant": variant, "model": model,
                            "length": length, "depth": depth, "needle": f"n{g:03d}", "cell": cell, "status": "ok",
                            "metric": "exact_match", "correct": right,
                            "metrics": {"exact_match": {"prediction": "", "correct": right, "lured": None}},
                            })  # fmt: skip
    return out, q


def write_run(path, recs):
    path.mkdir(parents=True)
    config = {"dataset": "/d", "dataset_manifest_sha256": "h", "variants": sorted({r["variant"] for r in recs})}
    (path / "run.json").write_text(json.dumps({"config": config}))
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def overall(res):
    assert res.exit_code == 0, res.output
    return next(r for r in json.loads(res.output) if r["scope"] == "overall")


def test_two_seeds_of_one_model_differ_by_nothing_the_test_resolves(tmp_path):
    rng = np.random.default_rng(0)
    a, q = records(rng, "m-rope")
    b, _ = records(rng, "m-rope", q=q)  # the same needles and model, another draw of its noise
    res = CliRunner().invoke(main, ["compare", str(write_run(tmp_path / "a", a)), str(write_run(tmp_path / "b", b)),
                                    "--json"])  # fmt: skip
    row = overall(res)
    assert row["p"] >= 0.05 and row["ci_low"] <= 0 <= row["ci_high"] and row["n"] == 400 and row["clusters"] == 40
    false = 0
    for seed in range(40):  # repeated fixtures: no more false positives than the level (with slack for 40 draws)
        a, q = records(np.random.default_rng(100 + seed), "m-rope")
        b, _ = records(np.random.default_rng(200 + seed), "m-rope", q=q)
        (c,) = compare(Side("a", a), Side("b", b), "exact_match", seed=seed)
        false += c.overall.p < 0.05
    assert false <= 5


def test_a_planted_difference_of_015_over_40_needles_is_found(tmp_path):
    rng = np.random.default_rng(1)
    a, q = records(rng, "videorope")
    b, _ = records(rng, "m-rope", shift=0.15, q=q)
    run = write_run(tmp_path / "r", a + b)
    res = CliRunner().invoke(main, ["compare", str(run), "--a", "videorope", "--b", "m-rope", "--json"])
    row = overall(res)
    assert row["p"] < 0.05 and 0 < row["ci_low"] < 0.15 < row["ci_high"]
    cells = [r for r in json.loads(res.output) if r["scope"] == "cell"]
    assert len(cells) == len(LENGTHS) * len(DEPTHS) and all(r["p_holm"] >= r["p_mcnemar"] for r in cells)
    text = CliRunner().invoke(main, ["compare", str(run), "--a", "videorope", "--b", "m-rope"]).output
    assert "resolved" in text and "not resolved" not in text.splitlines()[1]


def test_a_difference_map_greys_every_cell_but_the_one_the_test_resolves():
    rng = np.random.default_rng(2)
    a, q = records(rng, "a", needles=12, q=np.full(12, 0.5))
    b, _ = records(rng, "b", needles=12, q=np.full(12, 0.5))
    for r in a:  # one cell where a is always right and b always wrong
        if (r["length"], r["depth"]) == (32, 50):
            r["metrics"]["exact_match"]["correct"] = True
    for r in b:
        if (r["length"], r["depth"]) == (32, 50):
            r["metrics"]["exact_match"]["correct"] = False
    g = grid(a, list(LENGTHS), list(DEPTHS), "exact_match")
    grey = unresolved_cells(a + b, "hf:m", "a", "b", "v-niah", "exact_match", g)
    assert not grey[DEPTHS.index(50), LENGTHS.index(32)] and grey.sum() == grey.size - 1


def test_a_heatmap_marks_the_cells_whose_interval_is_wider_than_asked():
    from niah.plot.heatmaps import heatmap_figure
    from niah.plot.style import plt

    rng = np.random.default_rng(3)
    recs, _ = records(rng, "a", needles=3)
    g = grid(recs, list(LENGTHS), list(DEPTHS), "exact_match")
    wide = int(((g.high - g.low) > 0.8).sum())
    assert 0 < wide < g.accuracy.size  # 3 samples a cell: 0 or 3 of 3 right is narrower than 1 or 2 of 3
    fig = heatmap_figure(g, "a", mark_wide=0.8)
    dots = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(dots) == wide
    assert "[" in fig.axes[0].get_title()  # the overall score's interval in the title
    plt.close(fig)


def test_the_dry_run_plans_what_the_grid_can_resolve(small_dataset, tmp_path):
    from niah.stats import needles_to_resolve, resolution_lines, resolvable_difference

    res = CliRunner().invoke(main, ["run", str(small_dataset), "--model", "probe", "--out", str(tmp_path / "r"),
                                    "--dry-run", "--resolve", "0.1"])  # fmt: skip
    assert res.exit_code == 0 and not (tmp_path / "r").exists()
    assert "resolves   no difference: a paired test over 2 needles has no p-value below 0.5" in res.output
    assert f"0.1 needs {needles_to_resolve(0.1, 3 * 3)} needles overall" in res.output  # 3 lengths × 3 depths
    line = resolution_lines(40, 4, 5)[0]
    assert f"{resolvable_difference(40, 20):.3f} overall and {resolvable_difference(40, 5):.3f} per length" in line
    refused = CliRunner().invoke(main, ["run", str(small_dataset), "--model", "probe", "--out", str(tmp_path / "r"),
                                        "--resolve", "0.1"])  # fmt: skip
    assert refused.exit_code == 2 and "--resolve plans a grid: add --dry-run" in refused.output


def test_over_seeds_a_difference_every_seed_shows_is_found_and_one_the_seeds_dispute_is_not(tmp_path):
    """Three runs, one per training seed, each holding both variants on the same items: a shift of
    0.15 in every seed is resolved; +0.15, +0.15, −0.15 is not (the seeds disagree), though each
    seed alone resolves its own shift."""
    def seed_runs(name, shifts):
        runs = []
        for s, shift in enumerate(shifts):
            rng = np.random.default_rng(10 + s)
            q = np.full(40, 0.5)  # a negative shift: vanilla right more often
            a, _ = records(rng, "videorope", q=q + max(shift, 0))
            b, _ = records(rng, "vanilla", q=q + max(-shift, 0))
            runs.append(str(write_run(tmp_path / f"{name}{s}", a + b)))
        return runs

    def over(runs):
        return overall(CliRunner().invoke(main, ["compare", *runs, "--over-seeds", "--a", "videorope", "--b", "vanilla",
                                                 "--json"]))  # fmt: skip

    agreed = over(seed_runs("agree", (0.15, 0.15, 0.15)))
    assert agreed["seeds"] == 3 and agreed["p"] < 0.05 and agreed["ci_low"] > 0
    disputed_runs = seed_runs("dispute", (0.15, 0.15, -0.15))
    disputed = over(disputed_runs)
    assert disputed["p"] >= 0.05 and disputed["ci_low"] <= 0 <= disputed["ci_high"]
    alone = overall(CliRunner().invoke(main, ["compare", disputed_runs[2], "--a", "videorope", "--b", "vanilla",
                                              "--json"]))  # fmt: skip
    assert alone["ci_high"] < 0  # the third seed's own paired test resolves its reversed difference
    res = CliRunner().invoke(main, ["compare", *disputed_runs, "--a", "videorope", "--b", "vanilla"])
    assert res.exit_code == 2 and "--over-seeds" in res.output
