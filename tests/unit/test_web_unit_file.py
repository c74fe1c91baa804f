"""The console's unit, systemd/labd-web.service: clean for ``systemd-analyze verify`` and
as hardened as labd.service (``systemd-analyze security``, offline), with the network the
console serves on and nothing more."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from labd.config import load

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "labd-web.service"
# The bar scripts/verify-unit holds labd.service to.
MAX_EXPOSURE = 1.5

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd's tools are not installed"
)


def _service() -> configparser.SectionProxy:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNIT)
    return parser["Service"]


@needs_systemd
def test_the_console_unit_is_clean_and_scores_within_the_daemons_bound(tmp_path: Path) -> None:
    # The installed unit runs /opt/labd's labd; here, this checkout's (verify checks it).
    local = tmp_path / UNIT.name
    local.write_text(
        UNIT.read_text().replace("/opt/labd/venv/bin/labd", str(REPO / ".venv/bin/labd"))
    )
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, check=False
    )
    assert verify.stdout + verify.stderr == ""
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(local)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for [^:]*: ([0-9.]+)", security.stdout)
    assert match is not None, security.stdout + security.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, security.stdout


def test_the_console_writes_only_the_journal_and_the_spool_and_binds_no_low_port() -> None:
    service = _service()
    config = load(REPO / "config" / "labd.toml")
    writable = [Path(p) for p in service["ReadWritePaths"].split()]
    assert writable == [config.state_dir, config.spool_dir]
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["User"] == service["Group"] == "labd"
    assert service["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    # The default listens on 127.0.0.1; the network beyond it takes a drop-in.
    assert service["IPAddressAllow"] == "localhost"
    assert service["IPAddressDeny"] == "any"
    assert config.web.listen == ("127.0.0.1", 8631)
    assert "web" in service["ExecStart"].split()
