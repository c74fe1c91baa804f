"""``labd doctor`` as an administrator runs it: whose the state and spool are, and which
CUPS it checks (the one a running labd prints through, the demo's own among them)."""

from __future__ import annotations

import io
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.cli import main
from tests.factories import GOOD_CONFIG, write_config

NOBODY = "labd-no-such-user"
PROBLEMS = 2  # doctor's exit status when something needs fixing


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """GOOD_CONFIG with its folders made, and a CUPS server nobody runs."""
    for folder, mode in (("state", 0o700), ("spool", 0o700), ("hot/prints", 0o770)):
        (tmp_path / folder).mkdir(parents=True, mode=mode)
    text = GOOD_CONFIG + f'\n[cups]\nserver = "{tmp_path / "no-cups.sock"}"\n'
    return write_config(tmp_path, text)


def doctor(config: Path, *args: str) -> tuple[int, str]:
    """``labd --config CONFIG doctor ARGS`` with no Samba configuration; status, output."""
    none = config.parent / "no-smb.conf"
    out = io.StringIO()
    code = main(["--config", str(config), "doctor", "--smb-conf", str(none), *args], out)
    return code, out.getvalue()


def test_without_the_service_user_doctor_says_who_owns_state_and_spool(
    config: Path, tmp_path: Path
) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    (tmp_path / "spool").chmod(0o755)
    code, out = doctor(config, "--service-user", NOBODY)
    assert code == PROBLEMS, out
    assert f"FIX  service user {NOBODY!r} does not exist" in out
    assert (
        f"warn state {tmp_path / 'state'}: mode 0700, owned by {me}; "
        f"the service user {NOBODY!r} does not exist to own it\n"
        f"      fix: once the user exists: chown {NOBODY}:{NOBODY} {tmp_path / 'state'}"
    ) in out
    assert f"FIX  spool {tmp_path / 'spool'}: mode 0755, not 0700\n" in out
    # Never "owned by" a user that is not there.
    assert f"owned by {NOBODY}" not in out
    # Doctor only looks: nothing it checked was changed.
    assert (tmp_path / "spool").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "state").stat().st_uid == os.getuid()


def test_with_the_service_user_doctor_names_it_as_the_owner(config: Path, tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    _, out = doctor(config, "--service-user", me)
    assert f"ok   state {tmp_path / 'state'}: mode 0700, owned by {me}\n" in out
    assert "does not exist" not in out


def test_doctor_checks_the_configured_cups_when_no_labd_runs(config: Path, tmp_path: Path) -> None:
    code, out = doctor(config)
    assert code == PROBLEMS
    assert f"FIX  CUPS at {tmp_path / 'no-cups.sock'} ([cups] server): " in out


# A labd stand-in that holds the state directory's lock and writes its status file as the
# daemon does: a process of its own, as the kernel reports no lock to its holder.
HOLD = """\
import os, sys, time
from pathlib import Path
from labd.running import DaemonLock, DaemonStatus, write_status
state = Path(sys.argv[1])
lock = DaemonLock.acquire(state)
write_status(state, DaemonStatus(pid=os.getpid(), written_at=time.time(), cups_server=sys.argv[2]))
print("running", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def running_labd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A process holding ``state`` as a running labd does, printing through its own CUPS."""
    server = tmp_path / "its-own-cups.sock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "state"), str(server)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        assert proc.stdout.readline() == "running\n"
        yield proc.pid, server
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_doctor_checks_the_cups_the_running_labd_prints_through(
    config: Path, running_labd: tuple[int, Path]
) -> None:
    pid, server = running_labd
    code, out = doctor(config)
    assert code == PROBLEMS
    assert f"FIX  CUPS at {server} (the running labd's, PID {pid}): " in out
    assert "no-cups.sock" not in out


def test_doctor_says_whether_colours_are_converted_by_tables(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """labd's C module is built by its install; where it was not (no compiler), doctor
    warns and says how to mend it: labd converts colours all the same, more slowly."""
    from labd.convert import tables  # noqa: PLC0415

    _, out = doctor(config)
    vector = f", {tables.vector()}" if tables.vector() else ""  # as this processor has it
    assert f"ok   colour tables: labd's C module{vector} and liblcms2.so.2" in out
    monkeypatch.setattr(tables, "vector", lambda: None)
    _, out = doctor(config)
    assert "ok   colour tables: labd's C module and liblcms2.so.2" in out
    monkeypatch.setattr(tables, "_tables", None)
    _, out = doctor(config)
    assert "warn colour tables: no labd's C module labd.convert._tables (not built)" in out
    assert "fix: apt-get install gcc python3-dev liblcms2-2, then install labd again" in out


@pytest.mark.parametrize(
    ("module", "library", "package"),
    [("turbojpeg", "libturbojpeg.so.0", "libturbojpeg0"), ("webp", "libwebp.so.7", "libwebp7")],
)
def test_doctor_says_whether_photos_are_decoded_at_the_prints_scale(
    config: Path, monkeypatch: pytest.MonkeyPatch, module: str, library: str, package: str
) -> None:
    """The system's libturbojpeg and libwebp decode photos at the size the print needs;
    where one is missing (faked: a test cannot uninstall a package; the loader answers
    None) doctor warns and says how to mend it: labd prints all the same, with Pillow."""
    import importlib  # noqa: PLC0415

    decoder = importlib.import_module(f"labd.convert.{module}")
    _, out = doctor(config)
    assert f"ok   {library}: " in out
    monkeypatch.setattr(decoder, "_library", lambda: None)
    _, out = doctor(config)
    assert f"warn {library} not found: " in out
    assert f"fix: apt-get install {package}" in out
