"""A scratched disc: a real, read-only FUSE file system whose one file fails mid-read.

This is a fake, and the only one here: no scratched disc can be put into this machine.
Everything else is real — the kernel's FUSE mount, the ``read(2)`` calls labd makes, the
``EIO`` the kernel hands back when this file system fails one, as a disc drive's does on a
scratch.  It serves the files of a folder; reading ``BAD`` fails after its first 64 KiB.

Run: ``python -m tests.scratched_medium MOUNTPOINT FOLDER BAD`` (foreground; unmount with
``fusermount3 -u MOUNTPOINT`` to stop it).
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import mfusepy

GOOD_BYTES = 64 * 1024  # what can be read of the bad file before the scratch


class ScratchedMedium(mfusepy.Operations):  # type: ignore[misc]  # mfusepy is untyped
    """The folder ``root`` read only; ``bad`` fails with EIO past its first bytes."""

    def __init__(self, root: Path, bad: str) -> None:
        self.root = root
        self.bad = "/" + bad

    def _real(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        try:
            st = self._real(path).lstat()
        except OSError as e:
            raise mfusepy.FuseOSError(e.errno) from e
        keys = ("st_mode", "st_size", "st_nlink", "st_uid", "st_gid", "st_mtime", "st_atime",
                "st_ctime")  # fmt: skip
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *(p.name for p in self._real(path).iterdir())]

    def readlink(self, path: str) -> str:
        return str(self._real(path).readlink())

    def open(self, path: str, flags: int) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise mfusepy.FuseOSError(errno.EROFS)
        return 0

    def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
        if path == self.bad and offset + size > GOOD_BYTES:
            raise mfusepy.FuseOSError(errno.EIO)
        with self._real(path).open("rb") as f:
            f.seek(offset)
            return f.read(size)


def main() -> None:
    mountpoint, folder, bad = sys.argv[1:4]
    mfusepy.FUSE(ScratchedMedium(Path(folder), bad), mountpoint, foreground=True, ro=True,
                 direct_io=True)  # fmt: skip


if __name__ == "__main__":
    main()
