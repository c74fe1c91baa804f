"""What a command loads before it starts, kept small (issue 19: `labd convert`'s start-up).

``labd convert`` forks warm workers once it has loaded the conversion, so everything else
it imports first delays the first file: the journal's store (its SQLite driver, hashing),
asyncio and ssl (structlog brings those, so labd.config must not), the other commands'
modules.  ``labd --version`` loads none of them.  Each check runs a fresh interpreter: this
one has everything loaded already by the other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from labd import __version__
from labd.cli import AREAS
from labd.config import load
from labd.errors import ConfigError
from tests.factories import GOOD_CONFIG

REPO = Path(__file__).resolve().parents[2]
# Runs the code in argv[1] (with the rest of argv), then reports on stderr, at the very end
# (its atexit hook runs last, being the first registered), how many objects the garbage
# collector was told to leave alone and every module loaded.
PROBE = """\
import atexit, gc, json, sys
report = lambda: sys.stderr.write(json.dumps([gc.get_freeze_count(), sorted(sys.modules)]))
atexit.register(report)
exec(sys.argv.pop(1))
"""
# The console script itself (`labd ARGS`), run by the probe.
CONSOLE = "import runpy; runpy.run_path(sys.argv.pop(1), run_name='__main__')"
LABD = str(Path(sys.executable).parent / "labd")
# Modules labd.config reaches only through what `labd convert` never uses.
NOT_FOR_CONFIG = ("labd.store", "labd.store.location", "sqlite3", "structlog", "asyncio", "ssl")


@dataclass(frozen=True)
class Probed:
    """What a fresh interpreter did."""

    status: int
    out: str
    frozen: int  # objects left out of the garbage collections at exit
    modules: set[str]


def probe(code: str, *argv: str) -> Probed:
    """Run ``code`` with ``argv`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, code, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    frozen, modules = json.loads(done.stderr.splitlines()[-1])
    return Probed(done.returncode, done.stdout, frozen, set(modules))


def test_the_configuration_loads_no_store_nor_logging() -> None:
    probed = probe("import labd.config")
    assert probed.status == 0
    assert "labd.config" in probed.modules  # the probe did import it
    assert probed.modules.isdisjoint(NOT_FOR_CONFIG), sorted(probed.modules & {*NOT_FOR_CONFIG})


def test_a_configuration_with_a_shared_journal_still_checks_its_url(tmp_path: Path) -> None:
    """The store's location, loaded only for a [journal] url, still refuses a bad one."""
    good = tmp_path / "good.toml"
    good.write_text(GOOD_CONFIG + '\n[journal]\nurl = "postgresql://lab@db/labd"\n')
    postgres = load(good).journal.postgres
    assert postgres is not None
    assert postgres.display == "postgresql://lab@db/labd"
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD_CONFIG + '\n[journal]\nurl = "postgresql://lab:secret@db/labd"\n')
    with pytest.raises(ConfigError) as refused:
        load(bad)
    assert "url" in str(refused.value)
    assert "holds a password" in str(refused.value)
    assert bad.read_text().endswith('"postgresql://lab:secret@db/labd"\n')  # left as it was


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--config", "/nowhere.toml", "--version"], ["-c", "x", "--vers"]],
    ids=" ".join,
)
def test_version_loads_no_command_configuration_or_logging(argv: list[str]) -> None:
    probed = probe(CONSOLE, LABD, *argv)
    assert (probed.status, probed.out) == (0, f"labd {__version__}\n")
    labd = {m for m in probed.modules if m.startswith("labd.")}
    assert labd == {"labd.cli", "labd.cli.common", "labd.errors"}
    assert probed.modules.isdisjoint(("structlog", "logging", "tomllib", "asyncio"))


def test_the_probe_sees_a_command_load_its_area() -> None:
    """The checks above can fail: a named command loads its area, configuration, logging."""
    probed = probe(CONSOLE, LABD, "--config", "/nowhere.toml", "check-config")
    assert probed.status == ConfigError.exit_code
    assert {"labd.cli.service", "labd.config", "structlog"} <= probed.modules


def test_help_still_lists_every_command() -> None:
    probed = probe(CONSOLE, LABD, "--help")
    assert probed.status == 0
    for commands in AREAS.values():
        for command in commands:
            assert command in probed.out


def test_the_console_script_freezes_its_objects_at_exit() -> None:
    """The console script leaves its objects out of the garbage collections at exit..."""
    probed = probe(CONSOLE, LABD, "--version")
    assert probed.status == 0
    assert probed.frozen > 10_000


def test_a_caller_that_goes_on_keeps_its_collector() -> None:
    """... but main() called with its arguments (a test, say) leaves the collector alone."""
    probed = probe("from labd.cli import main\ntry: main(['--version'])\nexcept SystemExit: pass")
    assert (probed.status, probed.out) == (0, f"labd {__version__}\n")
    assert probed.frozen == 0


def test_the_conversion_loads_no_numpy() -> None:
    """numpy was 0.05 s of every `labd convert` and 12 MiB of every worker, for a buffer:
    libjpeg-turbo is reached through ctypes (labd.convert.turbojpeg) instead."""
    probed = probe("import labd.convert, labd.convert.job, labd.cli.convert")
    assert probed.status == 0
    assert "labd.convert.turbojpeg" in probed.modules  # the probe did import the conversion
    assert "numpy" not in probed.modules
