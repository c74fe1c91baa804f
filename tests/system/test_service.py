"""labd under supervision: reload on SIGHUP, the watchdog, a full spool.

Real ``labd run`` processes, real signals, a real NOTIFY_SOCKET, a real tmpfs.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.faults import FAULT_ENV
from tests.imagegen import make_photo
from tests.system.conftest import Lab
from tests.waiting import wait_until

pytestmark = pytest.mark.cups

EXTRA = """
[hotfolders.extra]
product = "prints-10x15"
printer = "virtual"
"""


def count(lab: Lab, line: str) -> int:
    """Datagrams so far on the notify socket that carry ``line``."""
    assert lab.notify is not None
    return sum(line in m.splitlines() for m in list(lab.notify.messages))


def set_labd_option(lab: Lab, line: str) -> None:
    """Add ``line`` to the [labd] table of the lab's configuration."""
    text = lab.config_path.read_text()
    lab.config_path.write_text(text.replace("[labd]\n", f"[labd]\n{line}\n", 1))


def reload(lab: Lab) -> None:
    """SIGHUP, and wait for RELOADING=1 then READY=1, as systemd would."""
    assert lab.proc is not None
    ready = count(lab, "READY=1")
    lab.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: count(lab, "READY=1") > ready, timeout=30, what="READY=1 after reload")
    assert count(lab, "RELOADING=1") >= 1


def test_sighup_adds_and_releases_hot_folders_and_refuses_a_bad_configuration(
    lab: Lab, tmp_path: Path
) -> None:
    lab.start()
    extra = lab.root / "hot" / "extra"
    extra.mkdir(mode=0o770)
    extra.chmod(0o770)
    good = lab.config_path.read_text()
    lab.config_path.write_text(good + EXTRA)
    reload(lab)
    assert lab.events("daemon.reloaded")[-1]["added"] == ["extra"]

    # A photo dropped into the new hot folder is taken and printed, with no restart.
    make_photo(tmp_path / "new.jpg", size=(1200, 800))
    shutil.copy(tmp_path / "new.jpg", extra / "new.jpg")
    [job_id] = lab.wait_for_jobs(1)
    assert lab.query("SELECT hotfolder FROM jobs WHERE id = ?", job_id) == [("extra",)]
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"

    # A bad configuration: refused with the file and key named; the old one runs on.
    lab.config_path.write_text(good.replace("stability_seconds = ", 'stability_seconds = "x" #'))
    reload(lab)
    [refused] = lab.events("daemon.reload_rejected")
    assert refused["file"] == str(lab.config_path)
    assert refused["key"] == "labd.stability_seconds"
    assert lab.proc is not None
    assert lab.proc.poll() is None
    make_photo(extra / "still.jpg", size=(1200, 800))
    second = max(lab.wait_for_jobs(2))
    assert lab.wait_for_state(second, {"DONE", "HELD", "QUARANTINED"}) == "DONE"

    # The extra hot folder removed: released, nothing more taken from it.
    lab.config_path.write_text(good)
    reload(lab)
    assert lab.events("daemon.reloaded")[-1]["removed"] == ["extra"]
    assert [e["hotfolder"] for e in lab.events("intake.hotfolder_released")] == ["extra"]
    assert lab.stop() == 0


def test_sighup_under_base_rereads_the_file_moved_there_as_at_start(
    lab: Lab, tmp_path: Path
) -> None:
    # `labd --base DIR run` (a trial beside the real folders): the file names the lab's
    # folders, labd runs on those under DIR, and a reload must not forget that.
    base = tmp_path / "trial"
    for name in ("prints-10x15", "extra"):
        (base / "hot" / name).mkdir(parents=True, mode=0o770)
        (base / "hot" / name).chmod(0o770)
    lab.start("--base", str(base))
    lab.config_path.write_text(lab.config_path.read_text() + EXTRA)
    reload(lab)
    assert lab.events("daemon.reload_rejected") == []
    assert lab.events("daemon.reloaded")[-1]["added"] == ["extra"]
    assert not (lab.root / "hot" / "extra").exists()  # never the file's own folders

    # Taken from the new hot folder under DIR, journaled under DIR, printed.
    make_photo(tmp_path / "new.jpg", size=(1800, 1200))
    shutil.copy(tmp_path / "new.jpg", base / "hot" / "extra" / "new.jpg")
    journal = base / "state" / "journal.sqlite"

    def done() -> list[tuple[object, ...]] | None:
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT hotfolder, state FROM jobs").fetchall()
        finally:
            conn.close()
        return rows if rows and rows[0][1] in {"DONE", "HELD", "QUARANTINED"} else None

    assert wait_until(done, timeout=120, what="the job under --base to finish") == [
        ("extra", "DONE")
    ]
    assert not lab.journal_path.exists()
    assert lab.stop() == 0


def test_hung_conversion_stops_the_watchdog_pings_and_a_restart_finishes_the_job(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_labd_option(lab, "stall_seconds = 2")
    monkeypatch.setenv(FAULT_ENV, "hang_convert")
    lab.start()
    assert lab.notify is not None
    lab.notify.wait_for("WATCHDOG=1")
    make_photo(tmp_path / "a.jpg", size=(1200, 800))
    shutil.copy(tmp_path / "a.jpg", lab.hot / "a.jpg")
    [job_id] = lab.wait_for_jobs(1)
    wait_until(lambda: lab.events("daemon.stalled"), timeout=30, what="labd to see its stall")
    pings = count(lab, "WATCHDOG=1")
    # Three more looks at the loops (one a second), and not one ping among them.
    wait_until(
        lambda: len(lab.events("daemon.stalled")) >= 4, timeout=30, what="more stalled looks"
    )
    assert count(lab, "WATCHDOG=1") == pings
    assert lab.job_states()[job_id] == "CLAIMED"

    # systemd kills a labd whose pings stopped (SIGABRT, then SIGKILL); the restart
    # carries on from the journal.
    assert lab.stop(signal.SIGKILL) == -signal.SIGKILL
    monkeypatch.delenv(FAULT_ENV)
    lab.start()
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    assert lab.stop() == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs: a spool filesystem that can really fill up (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "labd-test", str(mnt)],
                       check=True, capture_output=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a tmpfs here: {e}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_spool_holds_intake_and_labd_carries_on_once_there_is_room(
    lab: Lab, small_disk: Path, tmp_path: Path
) -> None:
    # Hot folders, spool and quarantine on the small disk (claiming is a rename: one
    # filesystem); the journal stays on the big one.
    config = lab.config_path.read_text()
    for key in ("spool_dir", "quarantine_dir", "hotfolder_root"):
        config = config.replace(f'{key} = "', f'{key} = "{small_disk}/', 1)
    config = config.replace("[labd]\n", "[labd]\nmin_free_mb = 4\n", 1)
    lab.config_path.write_text(config)
    hot = small_disk / "hot" / "prints-10x15"
    hot.mkdir(parents=True, mode=0o770)
    hot.chmod(0o770)
    lab.start()

    # Fill the disk to 2 MB free: below min_free_mb, with room left to drop a photo.
    filler = small_disk / "filler"
    st = os.statvfs(small_disk)
    filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 2 * 1024**2))
    wait_until(lambda: lab.events("daemon.intake_held"), timeout=30, what="intake held")
    assert lab.notify is not None
    lab.notify.wait_for("WATCHDOG=1")
    held = [m for m in lab.notify.messages if "STATUS=NOT TAKING JOBS: spool" in m]
    assert held, lab.notify.messages
    assert "min_free_mb" in str(lab.events("daemon.intake_held")[0]["problem"])

    make_photo(tmp_path / "a.jpg", size=(1200, 800))
    shutil.copy(tmp_path / "a.jpg", hot / "a.jpg")
    # Three more watchdog pings (a second apart; stability is 0.5 s): labd runs, healthy,
    # and takes nothing.
    pings = count(lab, "WATCHDOG=1")
    wait_until(lambda: count(lab, "WATCHDOG=1") >= pings + 3, timeout=30, what="three pings")
    assert lab.job_states() == {}
    assert (hot / "a.jpg").exists()

    # Room again: intake resumes by itself and the photo prints.
    filler.unlink()
    wait_until(lambda: lab.events("daemon.intake_resumed"), timeout=30, what="intake resumed")
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    assert lab.stop() == 0
