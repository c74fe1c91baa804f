"""A real headless browser for the console's system tests: Debian's chromium and
chromium-driver, driven by Selenium.

:func:`chromium` starts it at a window size (a desk screen, or the tablet at the QC table)
and skips the test where it cannot run; :func:`visit` loads a page; :func:`wait_for` polls
the page with a deadline (Selenium's wait, never a sleep); :func:`screenshots` is the
folder a person looks at (``$LABD_SCREENSHOTS``, else the test's own temporary folder).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM: Final = Path("/usr/bin/chromium")
# Headless Chromium now and then wedges a tab's renderer in a loaded VM: every command to
# that tab then fails with ChromeDriver's "Timed out receiving message from renderer" (its
# known flake; a full serial run of the tests saw it on the first page of a fresh browser,
# the page load retried in the same tab failing at once).  A test failing with that message
# is run once more from the start (pytest-rerunfailures: a fresh browser, a fresh lab); any
# other failure fails it as before.  Each browser test module's ``pytestmark``.
RENDERER_FLAKE: Final = pytest.mark.flaky(
    reruns=1, only_rerun=["Timed out receiving message from renderer"]
)
PAGE_SECONDS: Final = 30  # a page load or a script, at most
COMMAND_SECONDS: Final = 60  # any one command to the driver, at most
QUIT_SECONDS: Final = 15  # quitting, before the driver and its browser are killed
CHROMEDRIVER: Final = Path("/usr/bin/chromedriver")


@contextmanager
def chromium(width: int, height: int) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a window of ``width`` x ``height``; the test is skipped
    where Chromium is not installed or does not start."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--disable-gpu"):  # fmt: skip
        options.add_argument(argument)
    # English pages whatever the machine's locale: the console speaks the browser's
    # Accept-Language (labd.web.i18n), and the tests read its English texts.
    options.add_argument("--lang=en-US")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    # Its own process group: a hung driver is killed with the browser it started.
    service = Service(str(CHROMEDRIVER), popen_kw={"start_new_session": True})
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as e:
        pytest.skip(f"chromium does not start here: {e.msg}")
    # A page that never finishes loading fails the test in 30 s; no command to the driver
    # waits longer than a minute (Selenium's own default is 120 s, retried three times).
    driver.set_page_load_timeout(PAGE_SECONDS)
    driver.set_script_timeout(PAGE_SECONDS)
    executor = driver.command_executor
    assert isinstance(executor, RemoteConnection)  # Chrome's, never a bare URL
    executor.client_config.timeout = COMMAND_SECONDS
    try:
        yield driver
    finally:
        _quit(driver, service)


def _quit(driver: webdriver.Chrome, service: Service) -> None:
    """Quit the browser; a driver that no longer answers is killed with its browser, so a
    hung Chromium fails one test instead of holding the whole run."""
    quitter = threading.Thread(target=driver.quit, name="chromium-quit", daemon=True)
    quitter.start()
    quitter.join(QUIT_SECONDS)
    if quitter.is_alive() and service.process is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        quitter.join(QUIT_SECONDS)


def visit(driver: WebDriver, url: str) -> None:
    """Load ``url``, once more if Chromium's renderer never answered the first time.

    Headless Chromium now and then loses a navigation in a loaded VM ("Timed out receiving
    message from renderer", a known ChromeDriver flake: a run of eight full test runs saw it
    once, on a page the console had served at once).  A page that is slow itself fails the
    second load as well, in another PAGE_SECONDS; a tab whose renderer stays wedged fails it
    at once, and RENDERER_FLAKE runs the test again with a fresh browser.
    """
    try:
        driver.get(url)
    except TimeoutException as e:
        if "receiving message from renderer" not in (e.msg or ""):
            raise
        driver.get(url)


def wait_for(
    driver: WebDriver, what: str, check: Callable[[WebDriver], object], timeout: float
) -> None:
    """Poll the page until ``check`` holds (Selenium's wait: a deadline, never a sleep)."""
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(check, message=what)


def found(css: str) -> Callable[[WebDriver], bool]:
    """A check for :func:`wait_for`: the page has an element matching ``css``."""
    return lambda d: bool(d.find_elements(By.CSS_SELECTOR, css))


def screenshots(tmp_path: Path) -> Path:
    """The folder screenshots go to (made if missing)."""
    shots = Path(os.environ.get("LABD_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots
