"""Screenshot a `niah report` page with one heatmap cell clicked (README's figure), in headless
chromium (scripts/install_test_tools.sh installs it; selenium comes with the test extra).

    python scripts/report_screenshot.py report.html figures/report.png [HEATMAP_TITLE]
"""

from __future__ import annotations

import shutil
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main(page: str, out: str, title: str = "tiny · videorope δ=2 · v-niah-d") -> None:
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1300"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome") or "chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get("file://" + str(__import__("pathlib").Path(page).resolve()))
        heatmap = next(h for h in driver.find_elements(By.CSS_SELECTOR, ".heatmap")
                       if h.find_element(By.TAG_NAME, "h3").text == title)  # fmt: skip
        cell = next(c for c in heatmap.find_elements(By.CSS_SELECTOR, "td.cell") if float(c.text) < 1)
        cell.click()
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", heatmap)
        driver.save_screenshot(out)
    finally:
        driver.quit()


if __name__ == "__main__":
    main(*sys.argv[1:])
