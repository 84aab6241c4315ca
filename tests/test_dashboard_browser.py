"""The dashboard end to end in headless Chromium: ``jangmadang dashboard`` started as a user
starts it, a small scenario run from the Run page (progress, then a chart), compared with a
stored baseline, the Map page, not one request leaving the machine, and Ctrl+C stopping the
server with the page still open."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

import jangmadang as jm
from jangmadang.store import ResultsStore

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("make_screenshots", HERE.parent / "docs" /
                                               "make_screenshots.py")  # fmt: skip
shots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shots)

HAVE_BROWSER = shots.chromium_binary() is not None
HAVE_DRIVER = os.access(shots.CHROMEDRIVER, os.X_OK) or shutil.which("chromedriver") is not None

pytestmark = pytest.mark.skipif(
    not HAVE_BROWSER and not HAVE_DRIVER,
    reason="neither Chromium nor chromedriver is installed (Debian: apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)


def test_a_user_runs_a_scenario_watches_it_and_opens_the_map(tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    assert HAVE_BROWSER and HAVE_DRIVER, "Chromium and chromedriver come together: install both"
    out = tmp_path / "results"
    baseline = ResultsStore(out).save(
        jm.Sim("baseline", population=20_000, start="2019-01", end="2020-12").run()
    )  # stored before, as by `jangmadang run`
    # The browser is still open when the server is stopped: Ctrl+C must stop it all the same.
    with shots.chromium() as driver, shots.dashboard(out) as address:
        shots.start_run(driver, address, 20_000, "2019-01", "2020-12")
        seen = []  # the progress line as the page redraws it

        def finished(d) -> bool:
            lines = d.find_elements(By.CSS_SELECTOR, ".jm-progress")
            with contextlib.suppress(StaleElementReferenceException):
                seen.extend(line.text for line in lines)
            return any(text.startswith(("completed", "failed")) for text in seen)

        shots.wait_for(driver, finished, 120, "the run's end")
        assert seen[-1] == "completed: 2020-12: 24 of 24 months", seen[-1]
        assert any(text.startswith(("settling", "running")) for text in seen), seen
        assert driver.find_elements(By.CSS_SELECTOR, ".v-progress-linear")
        chart = driver.find_element(By.CSS_SELECTOR, "img.jm-live-chart")
        assert driver.execute_script("return arguments[0].naturalWidth", chart) > 300  # drawn
        assert chart.size["width"] > 300 and chart.size["height"] > 100
        stored = driver.find_element(By.XPATH, "//*[contains(text(), 'Stored as run')]").text
        run_id = stored.split("Stored as run ")[1].split(":")[0]

        shots.open_page(driver, address, "Compare", "img.jm-compare-chart")
        assert run_id in driver.page_source and baseline in driver.page_source  # the two runs
        difference = driver.find_element(By.CSS_SELECTOR, "img.jm-compare-chart")
        assert driver.execute_script("return arguments[0].naturalWidth", difference) > 300

        shots.open_page(driver, address, "Map", "img.jm-map")
        assert run_id in driver.page_source
        month = driver.find_element(By.CSS_SELECTOR, ".jm-map-month").text
        assert month == "2020-12"
        drawn = driver.find_element(By.CSS_SELECTOR, "img.jm-map")
        assert driver.execute_script("return arguments[0].naturalWidth", drawn) > 300

        requested = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        outside = [url for url in requested if not url.startswith((address, "data:", "blob:"))]
        assert not outside, f"the page fetched from elsewhere: {outside}"
    info = ResultsStore(out).run_info(run_id)
    assert info["status"] == "completed" and info["population"] == 20_000
    assert ResultsStore(out).load(run_id).date.nunique() == 24
