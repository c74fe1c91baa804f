"""The big buffers of a conversion, kept from one photo to the next in the same thread: the
file's bytes, and the decoder's pixels.

A conversion worker converts photo after photo of much the same size, and the file and the
photo decoded at the print's scale are the big buffers of each conversion: 8 MB and 28 MB
for a 20x30 from a 24 MP camera.  A fresh buffer is fresh pages every time, which the
kernel must zero and map one by one when they are first written, and the allocator gives
labd's back to it less often than to a simpler program: in a virtual machine, as print
servers often are, keeping them saves 9-21 ms a photo, 7-8 % (bench/convert.py, part 6).
labd.convert.jpegdecode reads the file and has its decoders write into the buffers the
last photo used, when nothing holds them any more.

"Nothing holds it" is CPython's reference count: the thread's own reference, and nobody
else's.  Every view of the buffer (the memoryview lent out, libvips' image made from it,
ctypes' array over it) holds a reference to it until it is gone, so a buffer still in use
(a photobook's page not yet encoded while the next is decoded) is never lent twice: the
next photo gets a fresh one.

No customer's photo waits in them for the next: when a conversion is over, :func:`wipe`
zeroes what it used (labd.convert.image, as the photo's file is closed; 2-3 ms for a
20x30's 36 MB, which stay mapped).  labd's services write no core dumps either
(systemd/labd.service, LimitCORE=0).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading
from pathlib import Path
from typing import Final

# Larger buffers are not kept: a photo that big is rare, and its memory better given back.
# (A 20x30 from a 24 MP camera decodes into 28 MB; from a 50 MP one, 49 MB.)
LARGEST: Final = 64 << 20
# The references to a buffer nobody else holds, as sys.getrefcount counts them in take():
# the thread's attribute, the local name, and getrefcount's own argument.
_UNHELD: Final = 3
_PRIVATE: Final = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS


class Kept:
    """One buffer per thread, lent again once nothing holds it (see the module docstring)."""

    def __init__(self, largest: int = LARGEST) -> None:
        self.largest = largest  # bytes; a larger buffer is not kept (0: none is)
        self._local = threading.local()

    def take(self, size: int) -> memoryview:
        """``size`` writable bytes: the kept buffer's, if it is big enough and nothing
        holds it, else a fresh buffer (kept in its place unless larger than ``largest``).
        The bytes are those of whatever was there before: the caller writes all of them."""
        kept: mmap.mmap | None = getattr(self._local, "buffer", None)
        if kept is not None and len(kept) >= size and sys.getrefcount(kept) <= _UNHELD:
            self._local.used = max(size, getattr(self._local, "used", 0))
            return memoryview(kept)[:size]
        del kept  # a buffer still held is its holders' to free
        # A mapping of its own, not the heap's: its pages are zeroed as they are first
        # written (no pass over them beforehand, as bytearray's), and a buffer kept in the
        # heap would keep what is freed around it from being given back.  Private: a
        # process forked from this one gets a copy, not the same pages (mmap's default).
        fresh = mmap.mmap(-1, max(size, 1), flags=_PRIVATE)
        if size <= self.largest:
            self._local.buffer = fresh
            self._local.used = size
        return memoryview(fresh)[:size]

    def read(self, path: Path) -> bytes | memoryview:
        """The bytes of the file ``path``, in the kept buffer (see :meth:`take`)."""
        with path.open("rb", buffering=0) as file:
            size = os.fstat(file.fileno()).st_size
            view = self.take(size + 1)  # a byte more: a file that has grown shows it
            got = 0
            while got <= size and (n := file.readinto(view[got:])):
                got += n
            if got <= size:
                return view[:got]
            # Grown since (intake takes only files that have settled): read as it now is.
            del view
            file.seek(0)
            return file.read()

    def wipe(self) -> None:
        """Zero the bytes of this thread's buffer lent since the last wipe, whoever still
        holds it: for when the conversion that used it is over."""
        kept: mmap.mmap | None = getattr(self._local, "buffer", None)
        used = getattr(self._local, "used", 0)
        if kept is not None and used:
            ctypes.memset(ctypes.addressof(ctypes.c_char.from_buffer(kept)), 0, used)
        self._local.used = 0

    def drop(self) -> None:
        """Give this thread's buffer back (freed once nothing holds it)."""
        self._local.__dict__.pop("buffer", None)
        self._local.used = 0


# The photo's file and the decoder's pixels (labd.convert.jpegdecode).
FILES: Final = Kept()
PIXELS: Final = Kept()


def wipe() -> None:
    """Zero what this thread's conversion used of the kept buffers: it is over."""
    FILES.wipe()
    PIXELS.wipe()


def release() -> None:
    """Give this thread's kept buffers back (freed once nothing holds them): for a
    conversion that holds its whole photo elsewhere (Pillow's), whose peak would otherwise
    be theirs more (36 MB after a 20x30).  The next photo for the fast routes maps fresh
    ones."""
    FILES.drop()
    PIXELS.drop()
