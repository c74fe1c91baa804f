"""The example drop-in for a PostgreSQL journal (systemd/labd-postgresql.conf): it loads
cleanly over labd.service, does what it says, and keeps the unit within its hardening bound.

Real systemd tools, offline, on copies of the two files laid out as systemd finds them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
MAX_EXPOSURE = 1.5  # scripts/verify-unit's bound for the unit alone


def analyze(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, check=False, cwd=cwd
    )
    return result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_postgresql_drop_in_loads_cleanly_and_opens_only_what_it_says(tmp_path: Path) -> None:
    venv_labd = REPO / ".venv" / "bin" / "labd"
    unit = (SYSTEMD / "labd.service").read_text()
    (tmp_path / "labd.service").write_text(unit.replace("/opt/labd/venv/bin/labd", str(venv_labd)))
    without = analyze("security", "--offline=yes", "--no-pager", "labd.service", cwd=tmp_path)
    drop_ins = tmp_path / "labd.service.d"
    drop_ins.mkdir()
    shutil.copy(SYSTEMD / "labd-postgresql.conf", drop_ins / "postgresql.conf")

    assert analyze("verify", "labd.service", cwd=tmp_path) == ""
    report = analyze("security", "--offline=yes", "--no-pager", "labd.service", cwd=tmp_path)
    # The drop-in is in effect: an allow list beside the unit's "deny any".
    assert "✓ IPAddressDeny=" in without
    assert re.search(r"✗ IPAddressDeny=\s+Service defines IP address allow list", report)
    found = re.search(r"Overall exposure level for labd\.service: ([0-9.]+)", report)
    assert found is not None, report
    assert float(found[1]) <= MAX_EXPOSURE
    text = (SYSTEMD / "labd-postgresql.conf").read_text()
    assert "LoadCredential=pgpass:/etc/labd/pgpass" in text
    assert 'password_file = "/run/credentials/labd.service/pgpass"' in text
