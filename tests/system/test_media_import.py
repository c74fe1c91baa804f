"""``labd media import``: an order from a customer's medium, printed by the running daemon.

The media are real read-only file systems mounted through FUSE (this kernel has no
iso9660 or vfat): an ISO 9660 disc image made in the test with xorriso and mounted with
fuseiso, holding photos, a text file and a link; and a file system that fails a read as a
scratched disc does (tests/scratched_medium.py, the one fake).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.imagegen import make_photo
from tests.system.conftest import REPO, Lab
from tests.waiting import wait_until

UUID = "2026-12-06-10-11-12-00"


def customer_files(folder: Path) -> dict[str, bytes]:
    """What a customer's disc holds: photos in DCIM, a text file, a link; their bytes."""
    (folder / "DCIM" / "100CANON").mkdir(parents=True)
    for n, size in enumerate(((1800, 1200), (1500, 1000), (1200, 1800)), 1):
        make_photo(folder / "DCIM" / "100CANON" / f"IMG_{n:04d}.JPG", size=size)
    (folder / "notes.txt").write_text("please print glossy\n")
    (folder / "best.jpg").symlink_to("DCIM/100CANON/IMG_0001.JPG")
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def disc(tmp_path: Path) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A customer's DVD: a real ISO 9660 image (Rock Ridge, so the link is kept) made with
    xorriso and mounted with fuseiso, read only: (mount point, its files' bytes)."""
    content = tmp_path / "content"
    content.mkdir()
    files = customer_files(content)
    image = tmp_path / "disc.iso"
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "HANSEN", "-o", str(image),
         str(content)],
        check=True,
    )  # fmt: skip
    mount = tmp_path / "media"
    mount.mkdir()
    subprocess.run(["fuseiso", str(image), str(mount)], check=True)
    try:
        yield mount, files
    finally:
        subprocess.run(["fusermount", "-u", str(mount)], check=True)


@pytest.fixture
def scratched(tmp_path: Path) -> Iterator[Path]:
    """A medium whose IMG_0002.JPG cannot be read past its first 64 KiB."""
    content = tmp_path / "content"
    content.mkdir()
    for n in (1, 2, 3):
        make_photo(content / f"IMG_000{n}.JPG", size=(1800, 1200))
    mount = tmp_path / "scratched"
    mount.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.scratched_medium", str(mount), str(content), "IMG_0002.JPG"],
        cwd=REPO,
    )
    try:
        wait_until(lambda: os.path.ismount(mount), timeout=20, what="the FUSE medium mounted")
        yield mount
    finally:
        subprocess.run(["fusermount3", "-u", str(mount)], check=False)
        proc.wait(timeout=20)


def media_items(lab: Lab) -> list[dict[str, object]]:
    out = lab.labd("media", "list", "--format", "json").stdout
    return [json.loads(line) for line in out.splitlines()]


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_an_order_imported_from_a_disc_is_printed_whole_and_the_disc_is_ready(
    lab: Lab, disc: tuple[Path, dict[str, bytes]]
) -> None:
    mount, files = disc
    before = digest_tree(mount)
    lab.start()
    lab.labd("media", "register", "--kind", "dvd", "--id", UUID, "--id-kind", "uuid")
    done = lab.labd(
        "media", "import", "1", "--from", str(mount), "--hotfolder", "prints-10x15",
        "--order", "A-1001", "--copies", "2", "--by", "anna",
    )  # fmt: skip
    assert "imported 3 photos" in done.stdout
    assert "left on the medium: best.jpg: a symbolic link" in done.stdout
    assert "left on the medium: notes.txt:" in done.stdout
    [job_id] = lab.wait_for_jobs(1)
    assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    [(outputs,)] = lab.query("SELECT count(*) FROM job_outputs WHERE job_id = ?", job_id)
    assert outputs == 3  # every photo, one order
    copies = lab.query("SELECT copies FROM job_files WHERE job_id = ? ORDER BY seq", job_id)
    assert copies == [(2,), (2,), (2,)]  # the ticket's --copies, for every photo
    item = wait_until(
        lambda: next((i for i in media_items(lab) if i["state"] == "ready"), None),
        timeout=30,
        what="the disc ready once its order is printed",
    )
    assert (item["kind"], item["jobs"], item["orders"]) == ("dvd", [job_id], ["A-1001"])
    got = lab.labd("media", "history", "1", "--format", "json", check=False)
    assert got.returncode == 0, got.stderr
    history = got.stdout
    kinds = [json.loads(line)["event"] for line in history.splitlines()]
    assert kinds[:3] == ["media.registered", "media.imported", "media.in_use"]
    assert kinds[-1] == "media.ready"
    assert digest_tree(mount) == before  # nothing on the medium changed
    assert sorted(files) == sorted(before)
    assert list(lab.hot.iterdir()) == []  # taken whole; no staging folder left behind
    assert "OK:" in lab.labd("journal", "verify").stdout
    lab.stop()


def test_an_unreadable_photo_makes_the_import_incomplete_and_nothing_is_printed(
    lab: Lab, scratched: Path
) -> None:
    lab.start()
    lab.labd("media", "register", "--kind", "cd", "--id", "CD-7", "--order", "A-1002")
    failed = lab.labd(
        "media", "import", "1", "--from", str(scratched), "--hotfolder", "prints-10x15",
        check=False,
    )  # fmt: skip
    assert failed.returncode == 27, failed.stderr
    assert "UNREADABLE: IMG_0002.JPG: cannot be read" in failed.stdout
    assert "the import is incomplete" in failed.stderr
    assert "cannot read IMG_0002.JPG" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert list(lab.hot.iterdir()) == []  # nothing released, nothing staged left
    assert lab.job_states() == {}
    [item] = media_items(lab)
    assert item["state"] == "received"  # unchanged: the order was not taken from it
    history = lab.labd("media", "history", "1", "--format", "json").stdout
    [imported] = [
        e for e in map(json.loads, history.splitlines()) if e["event"] == "media.imported"
    ]
    assert imported["data"]["complete"] is False
    assert imported["data"]["unreadable"] == 1
    lab.stop()
