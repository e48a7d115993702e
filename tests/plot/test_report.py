"""`niah report`: one self-contained HTML file; opened in a real headless browser (Debian's
chromium, installed by scripts/install_test_tools.sh) with no console errors, a cell clicked and
its samples shown."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from niah.cli import main

REFERENCES = Path(__file__).resolve().parents[2] / "references" / "videorope"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny random Qwen2-VL checkpoint: a run of it records exact match, as the paper's cells do."""
    from tiny_qwen import save_tiny_checkpoint

    folder = save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "qwen2_vl", "qwen2_vl")
    return ["--model", f"hf:{folder}", "--dtype", "float32", "--device", "cpu"]


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("report")
    data, run = root / "data", root / "run"
    assert cli("generate", "--preset", "demo", "--lengths", "8,16", "--depths", "0,50,100", "--needles-per-cell", 2,
               "--distractor-period", 3, "--width", 224, "--height", 112, "--out", data,
               "-q").exit_code == 0  # fmt: skip
    assert cli("run", *tiny_model, data, "--variants", "vanilla,m-rope", "--attention", "--out", run,
               "-q").exit_code == 0  # fmt: skip
    res = cli("report", run, REFERENCES / "m-rope", "--out", root / "report.html")  # both in exact match
    assert res.exit_code == 0, res.output
    return root / "report.html", run


def test_a_tiny_checkpoints_run_beside_the_paper_is_drawn_in_exact_match_on_both_sides(report, tmp_path):
    _, run = report
    res = cli("plot", run, REFERENCES / "m-rope", "--out", tmp_path / "f", "--format", "svg")
    assert res.exit_code == 0, res.output
    table = (tmp_path / "f" / "summary.md").read_text()
    rows = [line for line in table.splitlines()[2:] if line.strip()]
    assert rows and all(" | exact match | " in line for line in rows)  # the paper's cells and the run's samples
    assert any("Qwen2-VL-7B (VideoRoPE paper)" in line and "imported" in line for line in rows)
    heatmaps = list((tmp_path / "f").glob("heatmap_hf-*_v-niah.svg"))
    assert heatmaps and all("exact match" in p.read_text() for p in heatmaps)
    res = cli("plot", run, REFERENCES / "m-rope", "--out", tmp_path / "g", "--metric", "mc")
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert "--metric mc is not in every run" in res.output and "pass --metric exact_match" in res.output


def embedded(path: Path) -> dict:
    text = path.read_text()
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S).group(1))


def test_report_is_self_contained_and_indexes_every_sample(report):
    path, run = report
    text = path.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from a network
    data = embedded(path)
    results = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    listed = [data["samples"][i] for ids in data["index"].values() for i in ids]
    assert sorted(s["key"] for s in listed if not s.get("imported")) == sorted(r["key"] for r in results)
    assert sum(1 for s in listed if s.get("imported")) == 90  # the reference's published cells
    for s in listed:
        if s.get("cell"):
            cell = data["cells"][s["cell"]]
            assert data["thumbs"][cell["image"]].startswith("data:image/jpeg;base64,")
            assert all(data["thumbs"][d["image"]] for d in cell["lookalikes"])
            assert cell["sequence"].count("N") == 1
            # the look-alikes listed are the cell's own: as many as its strip marks
            assert len(cell["lookalikes"]) == cell["sequence"].count("D") + cell["sequence"].count("Y")
    # the depth-0 needle has no frame before it, the depth-100 needle none after
    depth = {s["cell"]: r["depth"] for s in listed for r in results if s.get("key") == r["key"]}
    for cell_id, d in depth.items():
        assert (data["cells"][cell_id]["before"] is None) == (d == 0)
        assert (data["cells"][cell_id]["after"] is None) == (d == 100)


def test_each_sample_carries_its_recorded_attention(report):
    path, run = report
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', path.read_text(),
                                re.S).group(1))  # fmt: skip
    recorded = {a["key"]: a for a in map(json.loads, (run / "attention.jsonl").read_text().splitlines())}
    mine = [s for s in data["samples"] if not s.get("imported")]
    assert mine and all(s["key"] in recorded for s in mine)
    for s in mine:
        a = recorded[s["key"]]
        assert s["attention"]["frames"] == [round(x, 4) for x in a["frame_mass"]]
        assert len(a["frame_mass"]) == s["frames"]
        assert s["attention"]["top"] == a["top"]
    assert not any("attention" in s for s in data["samples"] if s.get("imported"))


def test_bad_report_input_is_one_line(tmp_path, report):
    _, run = report
    for args, says in [([tmp_path / "none", "--out", tmp_path / "r.html"], "is not a niah run dir"),
                       ([run, "--out", tmp_path / "r.pdf"], "must be an .html file")]:  # fmt: skip
        res = cli("report", *args)
        assert res.exit_code == 2 and says in res.output and len(res.output.strip().splitlines()) == 1


def browser():
    """A headless chromium driven by selenium, or skip saying why."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[test])")
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no chromium/chromedriver here: run scripts/install_test_tools.sh (needs apt-get and root or sudo)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_report_in_a_real_browser_click_a_cell_see_its_samples(report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    path, run = report
    results = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    driver = browser()
    try:
        driver.get(path.as_uri())
        cells = driver.find_elements(By.CSS_SELECTOR, "td.cell")
        assert len(cells) == 2 * 2 * 2 * 3 + 90  # (variants × tasks) heatmaps of 2 × 3 cells, and the reference's
        target = next(c for c in cells if c.get_attribute("data-k").endswith("|16|50")
                      and c.find_element(By.XPATH, "ancestor::div[@class='heatmap']//h3").text.endswith(
                          " · m-rope · v-niah-d"))  # fmt: skip
        assert "exact match" in target.find_element(By.XPATH, "ancestor::div[@class='heatmap']").text
        target.click()
        WebDriverWait(driver, 5).until(seen.presence_of_element_located((By.CSS_SELECTOR, "#list .sample")))
        cards = driver.find_elements(By.CSS_SELECTOR, "#list .sample")
        expected = [r for r in results if r["variant"] == "m-rope" and r["task"] == "v-niah-d" and r["length"] == 16
                    and r["depth"] == 50]  # fmt: skip
        assert len(cards) == len(expected) == 2
        text = " ".join(c.text for c in cards)
        for r in expected:
            said = f"predicted {r['prediction']}, answer {r['answer']}"
            assert f"by exact_match · v-niah-d · needle {r['needle']} · {said}" in text
            mc = r["metrics"]["mc"]
            assert f"mc {'right' if mc['correct'] else 'wrong'} ({mc['prediction']}" in text
            assert ("lured by a distractor" if r["lured"] else "not lured") in text
        assert "Find the frame with" in text
        images = driver.find_elements(By.CSS_SELECTOR, "#list img")
        assert len(images) >= 2 * 5  # the needle, its look-alikes and the frames around it, per sample
        assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
        strips = driver.find_elements(By.CSS_SELECTOR, "#list .strip:not(.attention)")
        assert all(len(s.find_elements(By.CSS_SELECTOR, ".N")) == 1 for s in strips)
        shaded = driver.find_elements(By.CSS_SELECTOR, "#list .strip.attention")  # --attention: one per sample
        assert len(shaded) == len(cards) and all(len(s.find_elements(By.CSS_SELECTOR, "span")) == r["frames"]
                                                 for s, r in zip(shaded, expected, strict=True))  # fmt: skip
        assert all("attention at the answer: needle" in c.text for c in cards)
        imported = next(
            c for c in cells if "imported" in c.find_element(By.XPATH, "ancestor::div[@class='heatmap']//h3").text
        )
        imported.click()
        assert "Published cell (imported)" in driver.find_element(By.ID, "list").text
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


HOSTILE = 'Find the frame with <!--<script> a star. </script><img src=x onerror="alert(1)"> & "quotes"?'


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory, tiny_model):
    """A report whose needle text is built to break out of the page, in cells too short for their
    look-alikes (period 100 in 8 frames)."""
    import cv2
    import numpy as np

    root = tmp_path_factory.mktemp("hostile")
    for name in ("n.png", "d.png"):
        cv2.imwrite(str(root / name), np.full((56, 112, 3), 90 if name == "n.png" else 160, np.uint8))
    lines = [{"id": "evil", "image": "n.png", "question": HOSTILE, "options": ["<b>a</b>", "b&c"], "answer": 0,
              "distractors": [{"image": "d.png", "lure": 1}]},
             {"id": "lonely", "image": "n.png", "question": "Find the frame. Which?", "options": ["x", "y"],
              "answer": 1}]  # fmt: skip
    (root / "n.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    data, run = root / "data", root / "run"
    assert cli("generate", "--preset", "demo", "--needles", root / "n.jsonl", "--lengths", "8", "--depths", "50",
               "--distractor-period", 100, "--width", 112, "--height", 56, "--out", data, "-q").exit_code == 0
    assert cli("run", *tiny_model, data, "--variants", "vanilla", "--out", run, "-q").exit_code == 0
    assert cli("report", run, "--out", root / "report.html").exit_code == 0
    return root / "report.html"


def test_user_text_cannot_leave_its_context_in_the_report(hostile_report):
    text = hostile_report.read_text()
    inside = re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S).group(1)
    assert "<" not in inside and ">" not in inside  # no tag, comment or script opener in the data element
    data = json.loads(inside)
    evil = next(c for c in data["cells"].values() if c["needle"] == "evil")
    assert evil["question"] == HOSTILE and evil["options"] == ["<b>a</b>", "b&c"]  # read back exactly
    for cell in data["cells"].values():  # the evil needle has a distractor image, but no cell shows it
        assert cell["lookalikes"] == [] and "D" not in cell["sequence"]  # so no thumbnail of one either


def test_hostile_text_is_shown_as_text_in_a_real_browser(hostile_report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser()
    try:
        driver.get(hostile_report.as_uri())
        for cell in driver.find_elements(By.CSS_SELECTOR, "td.cell"):
            cell.click()
            WebDriverWait(driver, 5).until(seen.presence_of_element_located((By.CSS_SELECTOR, "#list .sample")))
        text = driver.find_element(By.ID, "list").text
        assert HOSTILE in driver.page_source or "&lt;!--&lt;script&gt;" in driver.page_source
        assert "<!--<script> a star." in text  # shown as text, drill-down working
        assert driver.find_elements(By.CSS_SELECTOR, "#list img[src='x']") == []
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
