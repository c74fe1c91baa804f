"""libjpeg-turbo's TurboJPEG library, for one thing: decoding a JPEG at a DCT scale M/8.

libjpeg-turbo scales inside its inverse DCT by any M/8 (M = 1..8), where Pillow's draft()
and libvips' loaders ask only for 1/2, 1/4 and 1/8 (labd.convert.jpegdecode says why that
matters).  This is a small ctypes binding to the system's libturbojpeg (Debian's
``libturbojpeg0``), written for labd rather than taken from a Python package: the ones
that exist (simplejpeg, PyTurboJPEG) hand back numpy arrays, and numpy is 0.05 s of every
``labd convert``'s start and 14 MiB of every conversion worker, for a buffer libvips takes
as bytes anyway.

Only the TurboJPEG 2 functions are used (libjpeg-turbo 2.0 and later, 3.x included):
tjInitDecompress, tjDecompressHeader3, tjDecompress2, tjGetErrorStr2, tjDestroy.  A
warning is an error here (TJFLAG_STOPONWARNING: a truncated file or corrupt data), so that
the caller can leave the file to Pillow's judgement.  Where the library is missing,
:func:`available` says so and the caller decodes with Pillow.
"""

from __future__ import annotations

import ctypes
from typing import Final

from labd.convert import clib

# turbojpeg.h
_TJPF_RGB: Final = 0
_TJPF_GRAY: Final = 6
_TJFLAG_STOPONWARNING: Final = 8192
_BANDS: Final = {"RGB": (_TJPF_RGB, 3), "GRAY": (_TJPF_GRAY, 1)}
# The Debian package's library; libjpeg-turbo 3 keeps its soname and these functions.
LIBRARY: Final = "libturbojpeg.so.0"
PACKAGE: Final = "libturbojpeg0"


class TurboJPEGError(Exception):
    """libjpeg-turbo refused the data (an error, or a warning: see the module docstring)."""


class _Lib:
    """The library's functions, typed for ctypes."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        handle, int_, out_int = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
        data = (ctypes.c_char_p, ctypes.c_ulong)  # a JPEG and its length
        self.init = clib.typed(lib.tjInitDecompress, handle)
        # handle, JPEG; its width, height, subsampling, colour space
        self.header = clib.typed(lib.tjDecompressHeader3, int_, handle, *data, *[out_int] * 4)
        # handle, JPEG, the pixels' buffer, width, pitch, height, pixel format, flags
        self.decompress = clib.typed(
            lib.tjDecompress2, int_, handle, *data, ctypes.c_void_p, *[int_] * 5
        )
        self.error = clib.typed(lib.tjGetErrorStr2, ctypes.c_char_p, handle)
        self.destroy = clib.typed(lib.tjDestroy, int_, handle)


_library = clib.loader(LIBRARY, _Lib)


def available() -> bool:
    """Whether the system's libturbojpeg could be loaded."""
    return _library() is not None


def scaled_size(size: tuple[int, int], eighths: int) -> tuple[int, int]:
    """The size libjpeg gives ``size`` decoded at ``eighths``/8 (it rounds up)."""
    return (-(-size[0] * eighths // 8), -(-size[1] * eighths // 8))


def decode(
    data: bytes | clib.Writable,
    colourspace: str,
    eighths: int,
    *,
    size: tuple[int, int] | None = None,
    into: clib.Allocate = bytearray,
) -> tuple[clib.Writable, int, int]:
    """``data`` (a JPEG) decoded at ``eighths``/8 of its size into ``colourspace`` ("RGB" or
    "GRAY"): the pixels, packed, and the decoded width and height.  ``into`` gives the
    buffer of that many bytes the pixels are written to (a fresh one by default).

    ``size``: the size the caller has checked (Pillow read the header, and labd its pixel
    limit); a file whose frame libjpeg-turbo reads as another size is refused before any
    memory is set aside for it.  Raises TurboJPEGError for anything libjpeg-turbo refuses
    or warns about, and RuntimeError when the library is missing (see :func:`available`).
    """
    lib = _library()
    if lib is None:
        raise RuntimeError(f"{LIBRARY} is not installed")
    chars = clib.chars(data)
    pixel_format, bands = _BANDS[colourspace]
    handle = lib.init()
    if not handle:
        raise MemoryError("libjpeg-turbo could not start a decompressor")
    try:
        width, height, subsampling, space = (ctypes.c_int() for _ in range(4))
        if lib.header(handle, chars, len(chars), width, height, subsampling, space) != 0:
            raise TurboJPEGError(_error(lib, handle))
        found = (width.value, height.value)
        if size is not None and found != size:
            raise TurboJPEGError(f"the frame is {found[0]} x {found[1]}, not {size[0]} x {size[1]}")
        w, h = scaled_size(found, eighths)
        pixels = into(w * h * bands)
        target = (ctypes.c_char * len(pixels)).from_buffer(pixels)
        status = lib.decompress(
            handle, chars, len(chars), ctypes.addressof(target), w, 0, h, pixel_format,
            _TJFLAG_STOPONWARNING,
        )  # fmt: skip
        del target  # the buffer may be freed, or lent again (labd.convert.buffers)
        if status != 0:
            raise TurboJPEGError(_error(lib, handle))
        return pixels, w, h
    finally:
        lib.destroy(handle)


def _error(lib: _Lib, handle: int) -> str:
    message = lib.error(handle)
    return message.decode("utf-8", "replace") if message else "unknown error"
