"""Hot folders nobody else can reach; files only from allowed users; polling on shares."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.config import DEFAULT_IGNORE
from labd.intake import EventSink, Intake, Watcher
from labd.intake.safety import check_folder, filesystem_type, is_network
from labd.model import HotFolder, Job, JobState, WatchMode
from labd.schemas import open_journal

STABLE = 1.0
RESCAN = 60.0


def hotfolder(path: Path, **changes: object) -> HotFolder:
    hf = HotFolder(name="prints", path=path, product="p", printer="q",
                   stability_seconds=STABLE, ignore=DEFAULT_IGNORE)  # fmt: skip
    return dataclasses.replace(hf, **changes)  # type: ignore[arg-type]


@pytest.fixture
def hot(tmp_path: Path) -> Path:
    path = tmp_path / "hot"
    path.mkdir(mode=0o770)
    path.chmod(0o770)
    return path


def make_intake(tmp_path: Path, hf: HotFolder, clock: ManualClock, claimed: list[Job]):
    journal = open_journal(tmp_path / "state" / "j.sqlite", clock)
    intake = Intake({hf.name: hf}, journal, spool_dir=tmp_path / "spool",
                    quarantine_dir=tmp_path / "quarantine", rescan_seconds=RESCAN, clock=clock,
                    on_claimed=claimed.append)  # fmt: skip
    return intake, journal


def test_folder_others_can_read_is_refused_until_fixed(tmp_path: Path, hot: Path) -> None:
    hot.chmod(0o755)
    clock, claimed = ManualClock(), list[Job]()
    intake, journal = make_intake(tmp_path, hotfolder(hot), clock, claimed)
    (hot / "photo.jpg").write_bytes(b"x")
    intake.tick()
    check = intake.checks["prints"]
    assert not check.ok
    assert check.problem == (
        f"{hot} can be reached by users outside the lab (mode 0755); fix: chmod o-rwx {hot}"
    )
    clock.advance(RESCAN + STABLE + 1)
    intake.tick()
    assert claimed == []  # nothing read or taken from a refused folder
    assert (hot / "photo.jpg").exists()
    assert intake.inotify_folders() == []
    hot.chmod(0o770)  # the administrator fixes it; the next rescan sees that
    clock.advance(RESCAN)
    intake.tick()
    assert intake.checks["prints"].ok
    assert [hf.name for hf in intake.inotify_folders()] == ["prints"]
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert len(claimed) == 1
    journal.close()


def test_wrong_group_names_the_fix(hot: Path) -> None:
    check = check_folder(hotfolder(hot, group="nogroup"))
    assert check.problem is not None
    assert check.problem.endswith(f"not 'nogroup'; fix: chgrp nogroup {hot}")
    assert not check_folder(hotfolder(hot, group="no-such-group-x")).ok
    missing = check_folder(hotfolder(hot / "gone"))
    assert (
        missing.problem
        == f"{hot / 'gone'} does not exist (share unmounted?); create it or fix the path"
    )


@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        pytest.param("other-user", "intake.user_not_allowed", id="user-not-allowed"),
        pytest.param("too-large", "intake.too_large", id="too-large"),
        pytest.param("fifo", "intake.not_regular", id="fifo"),
    ],
)
def test_refused_files_are_quarantined_unread(
    tmp_path: Path, hot: Path, setup: str, rule: str
) -> None:
    hf = hotfolder(hot, technicians=("root",), max_file_bytes=1024**2)
    clock, claimed = ManualClock(), list[Job]()
    intake, journal = make_intake(tmp_path, hf, clock, claimed)
    entry = hot / "IMG_1.jpg"
    if setup == "fifo":
        os.mkfifo(entry)
    else:
        entry.write_bytes(b"x" * (1024**2 + 1 if setup == "too-large" else 10))
    if setup == "other-user":
        os.chown(entry, 12345, 12345)
    intake.tick()
    clock.advance(STABLE + 0.1)
    intake.tick()
    [job] = journal.jobs()
    assert (job.state, job.rule) == (JobState.QUARANTINED, rule)
    assert claimed == []
    moved = tmp_path / "quarantine" / "prints" / f"{job.id}-IMG_1.jpg"
    assert moved.exists() or moved.is_fifo()  # nothing lost
    if setup == "other-user":
        assert (
            job.reason
            == "IMG_1.jpg: uid:12345 may not drop jobs into hot folder prints (allowed: root)"
        )
    journal.close()


MOUNTINFO = textwrap.dedent("""\
    22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
    40 22 0:35 / /srv/shares rw,relatime shared:2 - cifs //nas/lab rw,vers=3.0
    41 22 0:36 / /srv/shares/sshfs rw - fuse.sshfs host:/x rw
    42 22 0:37 / /mnt/with\\040space rw - nfs4 nas:/x rw
    """)


@pytest.mark.parametrize(
    ("path", "fstype", "network"),
    [
        pytest.param("/srv/labd/hot", "ext4", False, id="local"),
        pytest.param("/srv/shares/prints", "cifs", True, id="samba"),
        pytest.param("/srv/shares/sshfs/x", "fuse.sshfs", True, id="fuse"),
        pytest.param("/mnt/with space/hot", "nfs4", True, id="nfs-escaped-space"),
        pytest.param("/srv/sharesX", "ext4", False, id="prefix-is-not-a-parent"),
    ],
)
def test_filesystem_type_from_mountinfo(
    tmp_path: Path, path: str, fstype: str, network: bool
) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)
    assert filesystem_type(Path(path), info) == fstype
    assert is_network(fstype) is network


def test_poll_mode_finds_files_without_events(tmp_path: Path, hot: Path) -> None:
    hf = hotfolder(hot, watch=WatchMode.POLL, poll_seconds=2.0)
    clock, claimed = ManualClock(), list[Job]()
    intake, journal = make_intake(tmp_path, hf, clock, claimed)
    intake.tick()
    assert intake.checks["prints"].watch is WatchMode.POLL
    assert intake.inotify_folders() == []  # no inotify on a share: it would see nothing
    (hot / "a.jpg").write_bytes(b"a")  # written by another machine: no event here
    clock.advance(2.0)
    assert intake.tick() <= 2.0
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert len(claimed) == 1  # found by polling, long before the 60 s rescan
    journal.close()


def test_watcher_sees_real_inotify_events_and_follows_sync(hot: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir(mode=0o770)
    sink = EventSink()
    watcher = Watcher(sink)
    watcher.start()
    try:
        assert watcher.sync([hotfolder(hot), hotfolder(other, name="other")]) == []
        assert watcher.watched() == 2
        (hot / "order").mkdir()
        (hot / "order" / "img.jpg").write_bytes(b"x")
        assert sink.wake.wait(5), "no inotify event within 5 s"
        touched = set()
        for _ in range(50):  # events may arrive in several batches
            touched |= sink.drain()
            if ("prints", "order") in touched:
                break
            sink.wake.wait(0.1)
        assert ("prints", "order") in touched  # the top-level entry, not the inner file
        watcher.sync([hotfolder(hot)])
        assert watcher.watched() == 1
    finally:
        watcher.stop()
    assert not watcher.alive()


def test_explain_says_what_labd_would_do(tmp_path: Path, hot: Path) -> None:
    from labd.intake.explain import explain  # noqa: PLC0415  # the subject of this test only

    hf = hotfolder(hot, stability_seconds=5.0, technicians=("root",))
    (hot / "done.jpg").write_bytes(b"x")
    (hot / "copying.jpg").write_bytes(b"x")
    (hot / "IMG.jpg.part").write_bytes(b"x")
    (hot / "order").mkdir()
    (hot / "order" / "a.jpg").write_bytes(b"a")
    (hot / "order" / "b.jpg").write_bytes(b"b")
    (hot / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    now = (hot / "copying.jpg").stat().st_mtime + 1.0
    os.utime(hot / "done.jpg", (now - 60, now - 60))
    for p in (hot / "order", hot / "order" / "a.jpg", hot / "order" / "b.jpg"):
        os.utime(p, (now - 60, now - 60))

    def say(path: Path) -> str:
        return explain(path, [hf], now=now)

    assert (
        say(hot / "done.jpg")
        == "done.jpg is complete: labd takes it at its next look as a single-file job"
    )
    assert say(hot / "copying.jpg") == (
        "copying.jpg is waiting for stability: last change 1.0 s ago, taken 5 s after the "
        "last change as a single-file job"
    )
    assert say(hot / "IMG.jpg.part") == (
        "IMG.jpg.part is ignored by rule '*.part' of hot folder prints; never taken"
    )
    assert say(hot / "order" / "b.jpg") == (
        "order is complete: labd takes it at its next look as an order of 2 files"
    )
    assert "would be refused (intake.symlink)" in say(hot / "link.jpg")
    assert say(tmp_path / "elsewhere.jpg").startswith(
        f"{tmp_path / 'elsewhere.jpg'} is not in a hot folder"
    )
    fstype = filesystem_type(hot)
    assert (
        say(hot)
        == f"{hot} is hot folder prints (product p, printer q), watched by inotify on {fstype}"
    )
    hot.chmod(0o775)
    assert say(hot / "done.jpg").startswith("hot folder prints is refused, nothing in it is taken")


def test_a_folder_that_goes_away_is_unavailable_and_its_backlog_taken_on_return(
    tmp_path: Path, hot: Path
) -> None:
    clock, claimed = ManualClock(), list[Job]()
    intake, journal = make_intake(tmp_path, hotfolder(hot), clock, claimed)
    intake.tick()
    assert intake.checks["prints"].ok
    away = tmp_path / "unmounted"
    hot.rename(away)  # the share is unmounted
    clock.advance(RESCAN)
    intake.tick()
    assert intake.checks["prints"].problem == (
        f"{hot} does not exist (share unmounted?); create it or fix the path"
    )
    assert intake.inotify_folders() == []  # its watch is released
    (away / "queued-1.jpg").write_bytes(b"1")  # orders piled up meanwhile
    (away / "queued-2.jpg").write_bytes(b"2")
    away.rename(hot)  # mounted again
    clock.advance(RESCAN)
    intake.tick()
    assert intake.checks["prints"].ok
    clock.advance(STABLE + 0.1)
    intake.tick()
    assert sorted(j.entry for j in claimed) == ["queued-1.jpg", "queued-2.jpg"]
    journal.close()
