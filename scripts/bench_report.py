"""How large a `niah report` gets and how fast it opens, at the size of a paper's sweep:
15 lengths × 6 depths × 5 needles × 8 variants × 2 tasks = 7,200 samples.

The dataset is real (niah generate, 15 lengths of 8–120 frames at 448×252); the results are
synthetic records (seeded coin flips; the report's cost does not depend on who answered), so the
benchmark takes a minute, not a GPU night. Opening is timed in headless chromium (needs
scripts/install_test_tools.sh): load to the `load` event, then one cell click to its list.

    python scripts/bench_report.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.plot.html import build_report
from niah.rope import VARIANTS


def fake_run(dataset: Path, out: Path) -> int:
    ds = Dataset(dataset)
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    config = {"dataset": str(dataset.resolve()), "dataset_manifest_sha256": ds.manifest_hash,
              "variants": list(VARIANTS), "model": "synthetic"}  # fmt: skip
    (out / "run.json").write_text(json.dumps({"config": config}))
    lines = []
    for variant in VARIANTS:
        for task in ("v-niah", "v-niah-d"):
            for cell in ds.cells:
                right = rng.random() < 0.7
                lines.append(json.dumps({
                    "key": f"{task}|{variant}|{cell.id}", "status": "ok", "task": task, "variant": variant,
                    "model": "synthetic", "length": cell.length, "depth": cell.depth, "needle": cell.needle,
                    "cell": cell.id, "prediction": "A" if right else "B", "answer": "A", "correct": right,
                    "lured": None if task == "v-niah" else not right, "scores": {"option_logprobs": [-0.1, -2.0]},
                }))  # fmt: skip
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    return len(lines)


def open_in_chromium(page: Path) -> tuple[float, float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        start = time.perf_counter()
        driver.get(page.resolve().as_uri())  # returns at the load event
        loaded = time.perf_counter() - start
        cell = driver.find_elements(By.CSS_SELECTOR, "td.cell")[-1]
        start = time.perf_counter()
        cell.click()
        driver.find_element(By.CSS_SELECTOR, "#list .sample")
        return loaded, time.perf_counter() - start
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="Folder for the dataset, run and report (default: a temp dir).")
    work = parser.parse_args().work or Path(tempfile.mkdtemp())
    data = generate(work / "data", resolve_config("demo", lengths="8:120:8", depths="0:100:20", needles=5,
                                                  distractor_period=10))  # fmt: skip
    samples = fake_run(data, work / "run")
    start = time.perf_counter()
    page = build_report([work / "run"], work / "report.html")
    built = time.perf_counter() - start
    loaded, clicked = open_in_chromium(page)
    print(f"samples {samples}  report {page.stat().st_size / 2**20:.1f} MB  built in {built:.1f} s  "
          f"opened in {loaded:.2f} s  a cell's list in {clicked:.2f} s")


if __name__ == "__main__":
    main()
