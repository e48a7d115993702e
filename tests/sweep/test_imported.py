"""`niah import`: published accuracy files become run dirs that niah plot draws beside niah's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from niah.cli import main
from niah.plot.results import grid, groups, load_runs

REFERENCES = Path(__file__).resolve().parents[2] / "references" / "videorope"
# The VideoRoPE paper (arXiv 2502.05173), Table 3, V-NIAH column, percent: the facts the shipped
# references must reproduce.
TABLE_3 = {"vanilla": 31.78, "tad": 29.33, "m-rope": 78.67, "videorope": 91.11}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def overall(run_dirs) -> dict[str, float]:
    records, _ = load_runs(run_dirs)
    return {v.split(":")[0]: 100 * grid(rs, sorted({r["length"] for r in rs}), sorted({r["depth"] for r in rs}),
                                     "exact_match").overall
            for (_, v, _), rs in groups(records).items()}  # fmt: skip


def test_imported_paper_files_give_table_3(tmp_path):
    for name, paper in TABLE_3.items():
        out = tmp_path / name
        result = invoke("import", "videorope", REFERENCES / "sources" / f"{name}.json", "--out", out,
                        "--model", "Qwen2-VL-7B", "--variant", name, "--task", "v-niah")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert overall([out])[name] == pytest.approx(paper, abs=0.01)


def test_shipped_reference_runs_give_table_3_and_record_provenance():
    assert overall([REFERENCES]) == pytest.approx(TABLE_3, abs=0.01)
    for name in TABLE_3:
        imported = json.loads((REFERENCES / name / "run.json").read_text())["config"]["imported"]
        assert imported["source"].startswith("github.com/Wiselnn570/VideoRoPE@")
        assert imported["source"].endswith("/all_accuracies.json")


def longva_file(path: Path, rows) -> Path:
    """As LongVA's eval_vision_niah.py writes it: json.dump of a list, indent 4."""
    path.write_text(json.dumps(rows, indent=4))
    return path


def test_imported_run_plots_beside_a_niah_run(tmp_path):
    rows = [{"Num. Frame": n, "Frame Depth": float(d), "Score": 0.5} for n in (8, 16) for d in (0, 50)]
    imported = tmp_path / "paper"
    assert invoke("import", "longva", longva_file(tmp_path / "a.json", rows), "--out", imported, "--model", "paper",
                  "--variant", "m-rope").exit_code == 0  # fmt: skip
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.json").write_text(json.dumps({"config": {"dataset": "/d", "dataset_manifest_sha256": "h",
                                                          "variants": ["vanilla"]}}))  # fmt: skip
    (mine / "results.jsonl").write_text("".join(
        json.dumps({"key": f"k{i}", "status": "ok", "task": "v-niah", "variant": "vanilla", "model": "hf:mine",
                    "length": 8, "depth": 0, "needle": f"n{i}", "metric": "exact_match", "correct": i == 0,
                    "metrics": {"exact_match": {"prediction": "", "correct": i == 0, "lured": None}}}) + "\n"
        for i in range(4)))  # fmt: skip
    result = invoke("plot", mine, imported, "--out", tmp_path / "fig")
    assert result.exit_code == 0, result.output
    table = (tmp_path / "fig" / "summary.md").read_text()
    assert "| paper | m-rope | exact match | 0.500 (4 cells, imported; no interval) |" in table
    assert "| hf:mine | vanilla | exact match | 0.250 [0.01, 0.81] (4) |"  # 1 of 4 needles: exact in table
    records = [json.loads(x) for x in (imported / "results.jsonl").read_text().splitlines()]
    assert all(r["metric"] == "exact_match" and r["metrics"] == {"exact_match": {"score": 0.5}} and "correct" not in r
               for r in records)  # a published score per cell under its metric, never a boolean `correct`
    assert json.loads((imported / "run.json").read_text())["config"]["imported"]["metric"] == "exact_match"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not valid JSON"),
        ('{"Num. Frame": 8}', "non-empty JSON list"),
        ("[]", "non-empty JSON list"),
        ('[{"Num. Frame": 8, "Score": 1.0}]', 'lacks "Num. Frame", "Frame Depth" or "Score"'),
        ('[{"Num. Frame": 8, "Frame Depth": 0, "Score": 80}]', "'Score' is 80.0, outside 0–1"),
        ('[{"Num. Frame": 8, "Frame Depth": 120, "Score": 1}]', "outside 0–100 percent"),
        ('[{"Num. Frame": 8.5, "Frame Depth": 0, "Score": 1}]', "not a whole number of frames"),
        ('[{"Num. Frame": "8", "Frame Depth": 0, "Score": 1}]', "not a number"),
        (
            '[{"Num. Frame": 8, "Frame Depth": 0, "Score": 1}, {"Num. Frame": 8, "Frame Depth": 0.0, "Score": 0}]',
            "twice",
        ),
    ],
)
def test_bad_file_gets_one_line_and_writes_nothing(tmp_path, content, says):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = invoke("import", "longva", path, "--out", tmp_path / "run", "--model", "m", "--variant", "vanilla")
    assert result.exit_code == 2
    assert says in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_binary_or_missing_file_unknown_variant_format(tmp_path):
    binary = tmp_path / "x.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    ok = longva_file(tmp_path / "ok.json", [{"Num. Frame": 8, "Frame Depth": 0, "Score": 1}])
    cases = [(["longva", binary, "--variant", "vanilla"], "is not text"),
             (["longva", tmp_path / "none.json", "--variant", "vanilla"], "does not exist"),
             (["longva", ok, "--variant", "videoropee"], "did you mean videorope"),
             (["longva", ok, "--variant", "vanilla", "--task", "v-niah-x"], "did you mean v-niah")]  # fmt: skip
    for args, says in cases:
        result = invoke("import", *args, "--out", tmp_path / "run", "--model", "m")
        assert result.exit_code == 2 and says in result.output, result.output
        assert not (tmp_path / "run").exists()
    assert (
        invoke("import", "gkamradt", ok, "--out", tmp_path / "run", "--model", "m", "--variant", "vanilla").exit_code
        == 2
    )


def test_out_replaces_an_import_only(tmp_path):
    ok = longva_file(tmp_path / "ok.json", [{"Num. Frame": 8, "Frame Depth": 0, "Score": 1}])
    args = ["--model", "m", "--variant", "vanilla"]
    run = tmp_path / "run"
    assert invoke("import", "longva", ok, "--out", run, *args).exit_code == 0
    longva_file(ok, [{"Num. Frame": 8, "Frame Depth": 0, "Score": 0.25}])
    assert invoke("import", "longva", ok, "--out", run, *args).exit_code == 0  # an import is replaced
    assert overall([run])["vanilla"] == pytest.approx(25.0)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.json").write_text(json.dumps({"config": {"dataset": "/d"}}))
    (mine / "results.jsonl").write_text("precious\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for out, says in ((mine, "holds a niah run of its own"), (other, "is not a niah run dir")):
        result = invoke("import", "longva", ok, "--out", out, *args)
        assert result.exit_code == 2 and says in result.output
    assert (mine / "results.jsonl").read_text() == "precious\n" and (other / "notes.txt").read_text() == "mine"
