"""The console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium, against a running ``labd run`` with its private CUPS and ``labd web``.

A photo dropped into the hot folder reaches DONE on the board without the page being
reloaded (the live updates); a queue stopped with ``cupsdisable -r`` shows its reason on
the printers page.  A screenshot of each page is written to a folder (``$LABD_SCREENSHOTS``,
else the test's own temporary folder, named in the output) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.webconsole import PASSWORD, ConsoleProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The customer's name is in the file name, as labs get them.
PHOTO = "Nordmann_Kari_0815.jpg"


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--disable-gpu"):  # fmt: skip
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    except WebDriverException as e:
        pytest.skip(f"chromium does not start here: {e.msg}")
    try:
        yield driver
    finally:
        driver.quit()


def _wait(
    driver: WebDriver, what: str, check: Callable[[WebDriver], object], timeout: float
) -> None:
    """Poll the page until ``check`` holds (Selenium's wait: a deadline, never a sleep)."""
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(check, message=what)


def _found(css: str) -> Callable[[WebDriver], bool]:
    return lambda d: bool(d.find_elements(By.CSS_SELECTOR, css))


def test_a_photo_reaches_done_on_the_board_without_a_reload(
    lab: Lab, browser: WebDriver, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("LABD_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    lab.start()
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    lab.labd("user", "add", "kari", "--role", "admin", "--password-file", str(secret))
    console = ConsoleProcess(lab.config_path, lab.root / "web.log").start()
    try:
        browser.get(console.url + "/")
        _wait(browser, "the login form", _found("#login-form"), 10)
        browser.save_screenshot(str(shots / "login.png"))
        browser.find_element(By.ID, "name").send_keys("kari")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        _wait(browser, "the board", _found("body[data-page=board] #board"), 10)
        # A mark in the page's own memory: a reload would wipe it.
        browser.execute_script("window.labdNotReloaded = true;")

        source = tmp_path / PHOTO
        make_photo(source, size=(1200, 800))
        shutil.copy(source, lab.hot / PHOTO)
        [job_id] = lab.wait_for_jobs(1)
        _wait(
            browser,
            f"job {job_id} DONE on the board",
            _found(f'tr[data-job="{job_id}"][data-state="DONE"]'),
            60,
        )
        assert browser.execute_script("return window.labdNotReloaded === true;")
        assert lab.job_states()[job_id] == "DONE"
        browser.save_screenshot(str(shots / "board.png"))

        subprocess.run(
            ["cupsdisable", "-h", lab.server.server, "-r", "paper out", lab.queue], check=True
        )
        try:
            browser.get(console.url + "/printers")
            reasons = browser.find_element(
                By.CSS_SELECTOR, f'tr[data-queue="{lab.queue}"] .reasons'
            )
            assert "paper out" in reasons.text
            row = browser.find_element(By.CSS_SELECTOR, f'tr[data-queue="{lab.queue}"]')
            assert row.get_attribute("data-state") == "stopped"
            browser.save_screenshot(str(shots / "printers.png"))
        finally:
            subprocess.run(["cupsenable", "-h", lab.server.server, lab.queue], check=True)

        for name, path, ready in (
            ("job", f"/jobs/{job_id}", "#history tr[data-kind]"),
            ("journal", "/journal", "#events tr[data-seq]"),
            ("verify", "/journal/verify", '#verify-result[data-ok="true"]'),
            ("accounts", "/users", 'tr[data-user="kari"]'),
        ):
            browser.get(console.url + path)
            _wait(browser, f"the {name} page", _found(ready), 10)
            browser.save_screenshot(str(shots / f"{name}.png"))
        # The admin saw the order's page: journaled as a look at personal details.
        assert lab.query("SELECT count(*) FROM events WHERE kind = 'web.personal_viewed'") == [(1,)]
        # The tablet at the QC table: the board fits a small screen.
        browser.set_window_size(800, 1100)
        browser.get(console.url + "/")
        _wait(browser, "the board", _found(f'tr[data-job="{job_id}"]'), 10)
        browser.save_screenshot(str(shots / "board-tablet.png"))
    finally:
        console.stop()
    print(f"screenshots: {shots}")  # noqa: T201  # where a person finds them
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "accounts.png", "board-tablet.png", "board.png", "job.png", "journal.png",
        "login.png", "printers.png", "verify.png",
    ]  # fmt: skip
    assert lab.stop() == 0
