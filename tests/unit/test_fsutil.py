"""labd.fsutil: atomic writes in real temporary folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from labd.fsutil import atomic_write, fsync_dir


class Boom(Exception):
    """Raised inside a write to interrupt it."""


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_then_fail(target: Path) -> None:
    with atomic_write(target) as f:
        f.write(b"half of the new")
        raise Boom


def test_writes_the_file_with_mode_0600_by_default(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    with atomic_write(target) as f:
        f.write(b"print me")
    assert target.read_bytes() == b"print me"
    assert mode_of(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


@pytest.mark.parametrize("mode", [pytest.param(m, id=oct(m)) for m in (0o640, 0o644, 0o400)])
def test_mode_is_applied_whatever_the_umask(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "note.txt"
    old_umask = os.umask(0o077)  # would make 0640 into 0600 if the mode came from open()
    try:
        with atomic_write(target, mode=mode) as f:
            f.write(b"x")
    finally:
        os.umask(old_umask)
    assert mode_of(target) == mode


def test_replaces_existing_content_only_at_the_end(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    target.write_bytes(b"old")
    with atomic_write(target) as f:
        f.write(b"new")
        f.flush()
        # Mid-write: the old file is intact and the new data is in a hidden .tmp beside it.
        assert target.read_bytes() == b"old"
        [temp] = [p for p in tmp_path.iterdir() if p != target]
        assert temp.name.startswith(".out.jpg.")
        assert temp.name.endswith(".tmp")
        assert temp.read_bytes() == b"new"
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    target.write_bytes(b"old")
    with pytest.raises(Boom):
        write_then_fail(target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_failure_creates_nothing_where_there_was_nothing(tmp_path: Path) -> None:
    with pytest.raises(Boom), atomic_write(tmp_path / "out.jpg"):
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_failure_to_put_the_file_in_place_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "out.jpg").mkdir()  # a directory cannot be replaced by a file
    with pytest.raises(IsADirectoryError), atomic_write(tmp_path / "out.jpg") as f:
        f.write(b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "nope" / "out.jpg"):
        pass


def test_fsync_dir(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_dir(tmp_path / "file")
