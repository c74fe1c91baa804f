"""A real password-protected Samba share in front of a hot folder, end to end.

smbd runs on loopback (port 4445) with its own configuration, state and password
database; two technicians are real Unix users (created for the test, removed after), so
the files they put through the share are owned by them, as in a lab.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labd.demo.embedded import EmbeddedPrintServer
from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.cups,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("smbd", "smbclient", "smbpasswd")),
        reason="needs root and Samba (smbd, smbclient, smbpasswd)",
    ),
]

GROUP = "labdtest"
ANNA, BEN = "labdtest-anna", "labdtest-ben"
PASSWORD = "Lab-Secret-1"  # noqa: S105  # a test account on a loopback-only smbd
PORT = 4445


@dataclass
class Share:
    root: Path
    conf: Path
    hot: Path

    def put(
        self, user: str, password: str, local: Path, remote: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["smbclient", "//127.0.0.1/prints", "-p", str(PORT), "-U", f"{user}%{password}",
             "-c", f'put "{local}" "{remote}"'],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip


def _port_open() -> bool:
    try:
        socket.create_connection(("127.0.0.1", PORT), 0.2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def technicians() -> Iterator[None]:
    """Two technicians in the lab group: real Unix users, removed after the tests."""
    subprocess.run(["groupadd", "-f", GROUP], check=True)
    for user in (ANNA, BEN):
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-M", "-N", "-g", GROUP, "-s", "/usr/sbin/nologin", user],
                           check=True)  # fmt: skip
    yield
    for user in (ANNA, BEN):
        subprocess.run(["userdel", user], check=False, capture_output=True)
    subprocess.run(["groupdel", GROUP], check=False, capture_output=True)


@pytest.fixture
def lab_on_share(
    technicians: None, print_server: EmbeddedPrintServer, virtual_queue: str
) -> Iterator[tuple[Lab, Share]]:
    # Not under pytest's 0700 base: smbd reaches the share as the technician.
    root = Path(tempfile.mkdtemp(prefix="labd-smb-", dir="/tmp"))
    root.chmod(0o755)
    lab = Lab(root=root, server=print_server, queue=virtual_queue,
              hotfolder_settings=f'technicians = ["{ANNA}"]\ngroup = "{GROUP}"')  # fmt: skip
    lab.write_config()
    (root / "hot").chmod(0o755)
    os.chown(lab.hot, 0, grp.getgrnam(GROUP).gr_gid)
    lab.hot.chmod(0o2770)
    smb = root / "samba"
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log"):
        (smb / sub).mkdir(parents=True)
    conf = smb / "smb.conf"
    conf.write_text(
        textwrap.dedent(f"""\
        [global]
           smb ports = {PORT}
           interfaces = lo
           bind interfaces only = yes
           server role = standalone server
           security = user
           map to guest = never
           passdb backend = tdbsam:{smb}/private/passdb.tdb
           private dir = {smb}/private
           lock directory = {smb}/lock
           state directory = {smb}/state
           cache directory = {smb}/cache
           pid directory = {smb}/pid
           ncalrpc dir = {smb}/ncalrpc
           log file = {smb}/log/%m.log
           load printers = no
           disable spoolss = yes
        [prints]
           path = {lab.hot}
           valid users = @{GROUP}
           guest ok = no
           read only = no
           create mask = 0660
           directory mask = 0770
           force group = {GROUP}
           wide links = no
           follow symlinks = no
        """)
    )
    for user in (ANNA, BEN):
        subprocess.run(["smbpasswd", "-c", str(conf), "-s", "-a", user],
                       input=f"{PASSWORD}\n{PASSWORD}\n", text=True, check=True,
                       capture_output=True)  # fmt: skip
    smbd = subprocess.Popen(
        ["smbd", "--foreground", "--no-process-group", "-s", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # smbd signals its whole process group when it stops
    )  # fmt: skip
    try:
        wait_until(_port_open, timeout=10, what="smbd on port 4445")
        yield lab, Share(root, conf, lab.hot)
    finally:
        smbd.terminate()
        smbd.wait(10)
        if lab.proc is not None and lab.proc.poll() is None:
            lab.proc.kill()
            lab.proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_share_needs_the_password_and_attributes_each_job(
    lab_on_share: tuple[Lab, Share], tmp_path: Path
) -> None:
    lab, share = lab_on_share
    lab.start()
    photo = make_photo(tmp_path / "IMG_0001.jpg", size=(1200, 800))

    refused = share.put(ANNA, "wrong password", photo, "IMG_0001.jpg")
    assert refused.returncode != 0
    assert "NT_STATUS_LOGON_FAILURE" in refused.stdout + refused.stderr
    assert list(share.hot.iterdir()) == []  # nothing arrived

    put = share.put(ANNA, PASSWORD, photo, "IMG_0001.jpg")
    assert put.returncode == 0, put.stdout + put.stderr
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "QUARANTINED", "HELD"}) == "DONE"
    assert lab.query("SELECT technician FROM jobs WHERE id = ?", job_id) == [(ANNA,)]

    # Ben is in the lab group, so the share lets him in, but this hot folder is Anna's.
    put = share.put(BEN, PASSWORD, photo, "IMG_0002.jpg")
    assert put.returncode == 0, put.stdout + put.stderr
    second = wait_until(lambda: [j for j in lab.job_states() if j != job_id], timeout=30,
                        what="Ben's job")[0]  # fmt: skip
    assert lab.wait_for_state(second, {"DONE", "QUARANTINED", "HELD"}) == "QUARANTINED"
    [(technician, rule)] = lab.query("SELECT technician, rule FROM jobs WHERE id = ?", second)
    assert (technician, rule) == (BEN, "intake.user_not_allowed")
    kept = lab.root / "quarantine" / "prints-10x15" / f"{second}-IMG_0002.jpg"
    assert kept.read_bytes() == photo.read_bytes()  # nothing lost
    assert lab.stop() == 0
