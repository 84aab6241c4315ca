"""Screenshots of the dashboard for the README, taken in headless Chromium.

    python docs/make_screenshots.py            # writes docs/images/dashboard-*.png

It starts ``jangmadang dashboard`` on a fresh results folder, runs ``no_border_closure`` from
the Run page while a baseline run is stored beside it, and photographs each page. The browser
test (``tests/test_dashboard_browser.py``) starts the server and the browser with the same
functions, so what the README shows is what the test checks.

Chromium and its driver come from Debian (``apt-get install chromium chromium-driver``);
Selenium drives them through ``/usr/bin/chromedriver`` and downloads nothing.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

IMAGES = Path(__file__).parent / "images"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_OPTIONS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def dashboard(out: Path, *options: str, timeout: float = 60) -> Iterator[str]:
    """``jangmadang dashboard --out OUT`` on a free port, started in OUT's parent folder, for
    as long as the block lasts; yields its address once it answers."""
    out.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "jangmadang", "dashboard", "--out", out.name]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [*command, "--port", str(port), *options],
            cwd=out.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(address):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the dashboard did not start:\n{log.read().decode()}")
                time.sleep(0.2)
            yield address
        finally:
            server.send_signal(signal.SIGINT)  # what Ctrl+C does
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                raise RuntimeError("the dashboard did not stop within 20 s of Ctrl+C") from None


def _answers(address: str) -> bool:
    try:
        urllib.request.urlopen(address, timeout=2).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900):
    """Headless Chromium driven through Debian's chromedriver, in a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for option in CHROMIUM_OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--window-size={width},{height}")
    binary = chromium_binary()
    if binary:
        options.binary_location = binary
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for(driver, condition, seconds: float = 60, what: str = "the page"):
    """Wait until ``condition(driver)`` is true (Selenium's WebDriverWait, with a message)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(
        condition, f"{what} after {seconds} s"
    )


def field(driver, label: str):
    """The input of the text field labelled ``label``."""
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.XPATH, f"//label[normalize-space()='{label}']/following-sibling::input"
    )


def type_into(driver, label: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = field(driver, label)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text, Keys.ENTER)


def button(driver, text: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.XPATH, f"//button[.//span[normalize-space()='{text}'] or normalize-space()='{text}']"
    )


def open_page(driver, address: str, tab: str, ready_selector: str) -> None:
    """Go to a page by its tab, as a user does, and wait for an element of it."""
    from selenium.webdriver.common.by import By

    found = driver.find_element(
        By.XPATH, f"//div[contains(@class,'v-tab') and normalize-space()='{tab}']"
    )
    driver.execute_script("arguments[0].click()", found)  # wherever the page is scrolled to
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ready_selector), what=tab)


def choose(driver, label: str, item: str) -> None:
    """Pick ``item`` in the drop-down list labelled ``label``."""
    from selenium.webdriver.common.by import By

    driver.find_element(
        By.XPATH, f"//label[normalize-space()='{label}']/ancestor::div[contains(@class,'v-select')]"
    ).click()
    option = f"//div[contains(@class,'v-list-item__title') and normalize-space()='{item}']"
    wait_for(driver, lambda d: d.find_element(By.XPATH, option).is_displayed(), what=item)
    driver.find_element(By.XPATH, option).click()
    chosen = f"//label[normalize-space()='{label}']/following-sibling::div"
    wait_for(driver, lambda d: d.find_element(By.XPATH, chosen).text == item, what=item)


def start_run(
    driver, address: str, persons: int, first: str, last: str, scenario: str | None = None
) -> None:
    """On the Run page: a scenario (default: the page's, no_border_closure), a size and a
    window, then Run."""
    from selenium.webdriver.common.by import By

    driver.get(address + "/")
    wait_for(driver, lambda d: d.find_elements(By.XPATH, "//label[normalize-space()='Persons']"))
    if scenario is not None:
        choose(driver, "Scenario", scenario)
    type_into(driver, "Persons", str(persons))
    type_into(driver, "First month (YYYY-MM)", first)
    type_into(driver, "Last month (YYYY-MM)", last)
    button(driver, "Run").click()


def move_slider(driver, month: str) -> None:
    """Move the Map page's month slider with the keyboard (ten months a Page Down, one an
    arrow) until it shows ``month``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    thumb = driver.find_element(By.CSS_SELECTOR, ".v-slider__thumb-container")
    shown = driver.find_element(By.CSS_SELECTOR, ".jm-map-month")
    for _ in range(200):
        current = shown.text
        if current == month:
            return
        gap = (int(current[:4]) - int(month[:4])) * 12 + int(current[5:]) - int(month[5:])
        key = Keys.PAGE_DOWN if gap >= 10 else Keys.ARROW_LEFT if gap > 0 else Keys.ARROW_RIGHT
        thumb.send_keys(key)
        wait_for(driver, lambda d, before=current: shown.text != before, 20, "the slider")
    raise RuntimeError(f"the slider did not reach {month}")


def main() -> None:
    """Store a run of no_border_closure, run the baseline from the page, photograph the
    pages: the run under way, its series, baseline minus no_border_closure (what the closure
    did) and the provinces in June 2021, with the border closed."""
    from selenium.webdriver.common.by import By

    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results"
        window = ["--population", "100000", "--start", "2016-01", "--end", "2024-12"]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jangmadang",
                "run",
                "no_border_closure",
                "--out",
                str(out),
                *window,
            ],  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with dashboard(out) as address, chromium(1280, 1000) as driver:
            start_run(driver, address, 100_000, "2016-01", "2024-12", "baseline")
            wait_for(
                driver,
                lambda d: (
                    "of 108 months" in d.page_source
                    and d.find_elements(By.CSS_SELECTOR, "img.jm-live-chart")
                    and int(d.find_element(By.CSS_SELECTOR, ".jm-progress").text.split()[2]) > 60
                ),
                what="the run half way",
            )
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(IMAGES / "dashboard-run.png"))
            wait_for(driver, lambda d: "completed:" in d.page_source, 300, "the run's end")
            open_page(driver, address, "Results", "img.jm-results-chart")
            chart = driver.find_element(By.CSS_SELECTOR, "img.jm-results-chart")
            driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", chart)
            time.sleep(1)
            driver.save_screenshot(str(IMAGES / "dashboard-results.png"))
            open_page(driver, address, "Compare", "img.jm-compare-chart")
            time.sleep(1)
            driver.save_screenshot(str(IMAGES / "dashboard-compare.png"))
            open_page(driver, address, "Map", "img.jm-map")
            move_slider(driver, "2021-06")  # the border closed: the provinces part ways
            time.sleep(2)
            driver.save_screenshot(str(IMAGES / "dashboard-map.png"))
    for png in sorted(IMAGES.glob("dashboard-*.png")):
        print(png)


if __name__ == "__main__":
    main()
