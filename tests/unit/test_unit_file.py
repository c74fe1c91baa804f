"""The service files: the unit's hardening, sysusers.d and tmpfiles.d, and doctor's checks.

Real systemd tools, offline: ``systemd-analyze``, ``systemd-sysusers --root`` and
``systemd-tmpfiles --root`` on a scratch root.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from labd.cli.doctor import check_installation
from labd.config import load
from labd.convert import turbojpeg
from tests.imagegen import make_photo

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-tmpfiles") is None, reason="systemd's tools are not installed"
)


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(SYSTEMD / "labd.service")
    return parser


def test_the_unit_is_clean_and_scores_within_the_bound() -> None:
    result = subprocess.run(
        [REPO / "scripts" / "verify-unit"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "verify clean" in result.stdout
    assert "exposure" in result.stdout


def test_the_unit_writes_only_where_the_shipped_configuration_keeps_data() -> None:
    service = unit()["Service"]
    writable = [Path(p) for p in service["ReadWritePaths"].split()]
    config = load(REPO / "config" / "labd.toml")
    paths = [config.state_dir, config.spool_dir, config.quarantine_dir]
    paths += [hf.path for hf in config.hotfolders.values()]
    for path in paths:
        assert any(path.is_relative_to(w) for w in writable), path
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    # No network unless a remote CUPS needs it (a drop-in adds AF_INET then).
    assert service["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_NETLINK"]
    assert service["User"] == service["Group"] == "labd"


@pytest.mark.parametrize("name", ["labd.service", "labd-web.service"])
def test_no_unit_writes_core_dumps(name: str) -> None:
    """A crashed process's memory holds customers' photos (a conversion worker keeps the
    last photo's buffers for the next one): systemd-coredump would keep it on disk."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read(SYSTEMD / name)
    assert parser["Service"]["LimitCORE"] == "0"


@needs_systemd
def test_sysusers_and_tmpfiles_make_the_user_and_private_directories(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    for tool, name in (
        ("systemd-sysusers", "labd.sysusers"),
        ("systemd-tmpfiles", "labd.tmpfiles"),
    ):
        args = [tool, f"--root={tmp_path}", *(["--create"] if "tmpfiles" in tool else []), "-"]
        result = subprocess.run(
            args, input=(SYSTEMD / name).read_text(), capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text().splitlines()
    [entry] = [line.split(":") for line in passwd if line.startswith("labd:")]
    uid = int(entry[2])
    assert entry[6] == "/usr/sbin/nologin"

    def mode(path: str) -> int:
        st = (tmp_path / path.lstrip("/")).stat()
        assert st.st_uid == uid or path == "/etc/labd", path
        return stat.S_IMODE(st.st_mode)

    config = load(REPO / "config" / "labd.toml")
    assert mode(str(config.state_dir)) == 0o700
    assert mode(str(config.spool_dir)) == 0o700
    assert mode(str(config.quarantine_dir)) == 0o2770
    for hf in config.hotfolders.values():
        assert mode(str(hf.path)) == 0o2770  # the lab's group, nobody else
    assert mode("/etc/labd") == 0o750


def test_doctor_checks_the_installation(tmp_path: Path) -> None:
    text = (REPO / "config" / "labd.toml").read_text()
    for key, folder in (("state_dir", "state"), ("spool_dir", "spool")):
        text = text.replace(f'{key} = "', f'{key} = "{tmp_path}/{folder}" #', 1)
    (tmp_path / "labd.toml").write_text(text)
    config = load(tmp_path / "labd.toml")
    me = Path("/proc/self").owner()
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "spool").mkdir(mode=0o755)
    (tmp_path / "spool").chmod(0o755)

    found = {f.what: f for f in check_installation(config, me)}
    spool = [f for w, f in found.items() if w.startswith(f"spool {tmp_path}/spool: mode")]
    assert [f.ok for f in spool] == [False]
    assert "chmod 0700" in spool[0].fix
    assert found[f"state {tmp_path}/state: mode 0700, owned by {me}"].ok
    assert any(w.startswith("journal ") and "on local" in w for w in found)
    assert any(w.startswith(f"spool {tmp_path}/spool: ") and "MB free" in w for w in found)

    (tmp_path / "spool").chmod(0o700)
    assert all(f.ok for f in check_installation(config, me))
    if os.geteuid() == 0:
        others = check_installation(config, "nobody")
        assert any("not nobody" in f.what and not f.ok for f in others)
    missing = check_installation(config, "no-such-user-labd")
    assert any("does not exist" in f.what for f in missing)


def test_doctor_says_whether_conversion_has_libturbojpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed here (scripts/setup): an ok line.  Missing (faked: its loader answers
    None, as a test cannot uninstall a package): a warning with the package to install."""
    text = (REPO / "config" / "labd.toml").read_text()
    for key, folder in (("state_dir", "state"), ("spool_dir", "spool")):
        text = text.replace(f'{key} = "', f'{key} = "{tmp_path}/{folder}" #', 1)
        (tmp_path / folder).mkdir(mode=0o700)
    (tmp_path / "labd.toml").write_text(text)
    config = load(tmp_path / "labd.toml")
    me = Path("/proc/self").owner()
    [found] = [f for f in check_installation(config, me) if "libturbojpeg" in f.what]
    assert (found.ok, found.warning) == (True, False)
    monkeypatch.setattr(turbojpeg, "_library", lambda: None)
    [missing] = [f for f in check_installation(config, me) if "libturbojpeg" in f.what]
    assert (missing.ok, missing.warning) == (True, True)
    assert "decoded whole by Pillow" in missing.what
    assert missing.fix == "apt-get install libturbojpeg0"


# prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN): what MemoryDenyWriteExecute=yes asks of the
# kernel (Linux 6.3+), inherited by the conversion's worker processes.
_UNDER_MDWE = """
import ctypes, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
    sys.exit(77)
import pyudev
list(pyudev.Context().list_devices(subsystem="block"))
from labd.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("product", ["prints-10x15", "photobook-a4"])
def test_conversion_needs_no_writable_executable_memory(tmp_path: Path, product: str) -> None:
    # Big enough for the libvips route (decoded at 1/2 by libturbojpeg through ctypes,
    # written through libvips' callbacks): a 10x15 from 3600x2400.
    photo = make_photo(tmp_path / "a.jpg", size=(3600, 2400))
    png = tmp_path / "b.png"
    with Image.open(photo) as img:
        img.save(png)
    out = tmp_path / "out"
    args = ["--config", str(REPO / "config" / "labd.toml"), "convert", "--product", product]
    args += ["--jobs", "2", "--out", str(out), str(photo), str(png)]
    result = subprocess.run(
        [sys.executable, "-c", _UNDER_MDWE, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=120,
    )
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE")
    assert result.returncode == 0, result.stderr[-3000:]
    assert any(out.iterdir())
    # Not by a fallback: libturbojpeg and libvips did their part.
    for fallback in ("convert.libturbojpeg_missing", "convert.libvips_failed"):
        assert fallback not in result.stderr
