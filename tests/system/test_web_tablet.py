"""The misprint form on the tablet at the QC table, in a real browser at a tablet's size.

Headless Chromium at 768 x 1024 (an iPad-sized tablet, upright) against a running
``labd run`` with its private CUPS and ``labd web``: a photo printed by labd misprints, the
technician taps the job, the output, the reason, the container and "reprint", and the
reprint job appears on the board and reaches DONE there, printed by the same daemon.
Screenshots of the duty pages go to the screenshots folder (``$LABD_SCREENSHOTS``, else the
test's temporary folder, named in the output).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Final

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.webbrowser import RENDERER_FLAKE, chromium, found, screenshots, visit, wait_for
from tests.webconsole import PASSWORD, ConsoleProcess

pytestmark = RENDERER_FLAKE

TABLET: Final = (768, 1024)
DESK: Final = (1400, 1000)
# A finger needs about 9 mm: 48 CSS pixels is the usual floor for a touch target.
TOUCH_TARGET: Final = 48


def _log_in(browser: WebDriver, console: ConsoleProcess, name: str) -> None:
    visit(browser, console.url + "/login")
    wait_for(browser, "the login form", found("#login-form"), 10)
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait_for(browser, "the board", found("body[data-page=board]"), 10)


def _tap(browser: WebDriver, css: str) -> None:
    """Tap an element of the form: it must be big enough for a finger."""
    element = browser.find_element(By.CSS_SELECTOR, css)
    assert element.size["height"] >= TOUCH_TARGET, (css, element.size)
    element.click()


def _as_tablet(browser: webdriver.Chrome) -> None:
    """Make the browser's viewport a tablet's, upright, touch and all (Chromium's device
    emulation, as its developer tools do): the window's size would leave the viewport
    smaller by whatever the window itself takes."""
    width, height = TABLET
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
    )
    browser.execute_cdp_cmd(
        "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
    )


def _fits(browser: WebDriver) -> None:
    """The page is shown at the tablet's size and fits its width: nothing to scroll sideways."""
    size = browser.execute_script("return [window.innerWidth, window.innerHeight];")
    assert tuple(size) == TABLET
    assert browser.execute_script("return document.documentElement.scrollWidth;") <= TABLET[0]


def test_a_misprint_recorded_on_the_tablet_is_printed_again(lab: Lab, tmp_path: Path) -> None:
    shots = screenshots(tmp_path)
    lab.start()
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    lab.labd("user", "add", "kari", "--role", "technician", "--password-file", str(secret))
    lab.labd("user", "add", "sue", "--role", "supervisor", "--password-file", str(secret))
    lab.labd("waste", "container", "open", "W-1", "--class", "P", "--level", "4",
             "--location", "QC table", "--by", "anna")  # fmt: skip
    source = tmp_path / "Nordmann_Kari_0815.jpg"
    make_photo(source, size=(1200, 800))
    shutil.copy(source, lab.hot / source.name)
    [job] = lab.wait_for_jobs(1)
    lab.wait_for_state(job, {"DONE"})
    console = ConsoleProcess(lab.config_path, lab.root / "web.log").start()
    try:
        with chromium(*TABLET) as tablet:
            _as_tablet(tablet)
            _log_in(tablet, console, "kari")
            tablet.get(console.url + "/waste/misprint")
            wait_for(tablet, f"job {job} to tap", found(f'a.tile[data-job="{job}"]'), 10)
            _fits(tablet)
            tablet.save_screenshot(str(shots / "misprint-jobs-tablet.png"))
            _tap(tablet, f'a.tile[data-job="{job}"]')
            wait_for(tablet, "the misprint form", found("#misprint-form"), 10)
            _fits(tablet)
            container = tablet.find_element(By.ID, "container-W-1")
            assert container.is_selected()  # the only open container: chosen already
            _tap(tablet, 'label[data-reason="banding"]')
            _tap(tablet, "label.tile.yes")
            # The photo's one output is ticked already; a tap would untick it.
            assert tablet.find_element(By.ID, "output-1").is_selected()
            tablet.save_screenshot(str(shots / "misprint-form-tablet.png"))
            _tap(tablet, "#record")
            wait_for(tablet, "the misprint's note", found("p.note"), 10)
            note = tablet.find_element(By.CSS_SELECTOR, "p.note").text
            match = re.search(r"printed again as job (\d+)", note)
            assert match is not None, note
            again = int(match.group(1))
            tablet.save_screenshot(str(shots / "misprint-recorded-tablet.png"))
            tablet.get(console.url + "/")
            wait_for(
                tablet,
                f"reprint job {again} DONE on the board",
                found(f'tr[data-job="{again}"][data-state="DONE"]'),
                60,
            )
            tablet.save_screenshot(str(shots / "board-reprint-tablet.png"))
        assert lab.job_states() == {job: "DONE", again: "DONE"}
        [(entry, job_of, outputs, reason, by, reprint)] = lab.query(
            "SELECT id, job_id, outputs, reason, found_by, reprint FROM waste_entries"
        )
        assert (job_of, json.loads(str(outputs)), reason, by, reprint) == (
            job, [1], "banding", "kari", "requested",
        )  # fmt: skip
        [(linked,)] = lab.query("SELECT data FROM events WHERE kind = 'waste.reprinted'")
        assert json.loads(str(linked)) == {"entry": entry, "reprint_job": again}
        _desk_screenshots(lab, console, job, shots)
    finally:
        console.stop()
    print(f"screenshots: {shots}")  # noqa: T201  # where a person finds them
    assert {"misprint-form-tablet.png", "board-reprint-tablet.png", "erase-preview.png"} <= {
        p.name for p in shots.glob("*.png")
    }
    assert lab.stop() == 0


def _desk_screenshots(lab: Lab, console: ConsoleProcess, job: int, shots: Path) -> None:
    """The other duty pages at a desk, with something on each: a quarantined file, a
    customer's stick, a legal hold."""
    broken = lab.hot / "Hansen_broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not the rest of a JPEG")
    lab.labd("media", "register", "--kind", "usb", "--id", "SN-0815", "--order", "ORD-4711",
             "--job", str(job), "--by", "anna")  # fmt: skip
    lab.labd("hold", str(job), "--reason", "complaint K-12", "--by", "sue")
    [_, _, quarantined] = lab.wait_for_jobs(3)
    lab.wait_for_state(quarantined, {"QUARANTINED"})
    with chromium(*DESK) as desk:
        _log_in(desk, console, "sue")
        for name, path, ready in (
            ("quarantine", "/quarantine", f'tr[data-job="{quarantined}"]'),
            ("media", "/media", "#media-items tr[data-item]"),
            ("waste", "/waste", 'tr[data-container="W-1"]'),
            ("retention", "/retention", "#holds tr[data-hold]"),
        ):
            desk.get(console.url + path)
            wait_for(desk, f"the {name} page", found(ready), 10)
            desk.save_screenshot(str(shots / f"{name}.png"))
        # The erasure's preview: what would go, nothing gone yet.
        desk.find_element(By.ID, "erase-job").send_keys(str(quarantined))
        desk.find_element(By.ID, "erase-request").send_keys("R-2031")
        desk.find_element(By.ID, "preview").click()
        wait_for(desk, "the erasure's preview", found(f'#plan[data-jobs="{quarantined}"]'), 10)
        desk.save_screenshot(str(shots / "erase-preview.png"))
    assert lab.job_states()[quarantined] == "QUARANTINED"  # a preview erases nothing
