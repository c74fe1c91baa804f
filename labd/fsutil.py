"""Crash-safe file writes, after borgbackup's ``SaveFile``.

A reader sees either the old file or the complete new one, never a half-written file, even
if labd or the machine dies mid-write.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from labd.names import shorten


@contextmanager
def atomic_write(path: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` with permissions ``mode`` when the block ends.

    On an exception the temporary file is removed, ``path`` is left as it was, and the
    exception propagates.
    """
    # Same directory, so os.replace is a rename on one filesystem; the leading dot and the
    # .tmp suffix are what hot-folder watchers and cleaners ignore.
    # The name is shortened so that the temporary one fits within 255 bytes too.
    prefix = f".{shorten(path.name, 200)}."
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            # fchmod, not mkstemp's 0600 or the umask: the caller's mode is what it gets.
            os.fchmod(f.fileno(), mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Without this the rename itself may be lost in a crash.
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames, new and deleted files) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        # Some network filesystems cannot fsync a directory and say EINVAL; anything else
        # (EIO above all) is a real failure.
        if e.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)
