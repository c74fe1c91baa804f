"""The console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium, against a running ``labd run`` with its private CUPS and ``labd web``.

A photo dropped into the hot folder reaches DONE on the board without the page being
reloaded (the live updates); a queue stopped with ``cupsdisable -r`` shows its reason on
the printers page.  A screenshot of each page is written to a folder (``$LABD_SCREENSHOTS``,
else the test's own temporary folder, named in the output) for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.webbrowser import RENDERER_FLAKE, chromium, found, screenshots, visit, wait_for
from tests.webconsole import PASSWORD, ConsoleProcess

pytestmark = RENDERER_FLAKE

# The customer's name is in the file name, as labs get them.
PHOTO = "Nordmann_Kari_0815.jpg"


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium(1400, 1000) as driver:
        yield driver


def test_a_photo_reaches_done_on_the_board_without_a_reload(
    lab: Lab, browser: WebDriver, tmp_path: Path
) -> None:
    shots = screenshots(tmp_path)
    lab.start()
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    lab.labd("user", "add", "kari", "--role", "admin", "--password-file", str(secret))
    console = ConsoleProcess(lab.config_path, lab.root / "web.log").start()
    try:
        visit(browser, console.url + "/")
        wait_for(browser, "the login form", found("#login-form"), 10)
        browser.save_screenshot(str(shots / "login.png"))
        browser.find_element(By.ID, "name").send_keys("kari")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        wait_for(browser, "the board", found("body[data-page=board] #board"), 10)
        # A mark in the page's own memory: a reload would wipe it.
        browser.execute_script("window.labdNotReloaded = true;")

        source = tmp_path / PHOTO
        make_photo(source, size=(1200, 800))
        shutil.copy(source, lab.hot / PHOTO)
        [job_id] = lab.wait_for_jobs(1)
        wait_for(
            browser,
            f"job {job_id} DONE on the board",
            found(f'tr[data-job="{job_id}"][data-state="DONE"]'),
            60,
        )
        assert browser.execute_script("return window.labdNotReloaded === true;")
        assert lab.job_states()[job_id] == "DONE"
        browser.save_screenshot(str(shots / "board.png"))

        subprocess.run(
            ["cupsdisable", "-h", lab.server.server, "-r", "paper out", lab.queue], check=True
        )
        try:
            visit(browser, console.url + "/printers")
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
            ("reports", "/reports#section-prints_per_product", "#chart-prints_per_hour .bar-group"),
            ("records", "/records", "#controller-missing, #controller"),
        ):
            visit(browser, console.url + path)
            wait_for(browser, f"the {name} page", found(ready), 10)
            browser.save_screenshot(str(shots / f"{name}.png"))
        # The admin saw the order's page: journaled as a look at personal details.
        assert lab.query("SELECT count(*) FROM events WHERE kind = 'web.personal_viewed'") == [(1,)]
        # The tablet at the QC table: the board fits a small screen.
        browser.set_window_size(800, 1100)
        visit(browser, console.url + "/")
        wait_for(browser, "the board", found(f'tr[data-job="{job_id}"]'), 10)
        browser.save_screenshot(str(shots / "board-tablet.png"))
    finally:
        console.stop()
    print(f"screenshots: {shots}")  # noqa: T201  # where a person finds them
    # A subset: with $LABD_SCREENSHOTS the folder holds the other browser tests' too.
    assert {
        "accounts.png", "board-tablet.png", "board.png", "job.png", "journal.png",
        "login.png", "printers.png", "records.png", "reports.png", "verify.png",
    } <= {p.name for p in shots.glob("*.png")}  # fmt: skip
    assert lab.stop() == 0
