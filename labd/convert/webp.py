"""libwebp, for one thing: decoding a WebP photo straight to the size the print needs.

Pillow decodes a WebP whole, through its animation decoder, into an RGBA canvas it then
copies twice: 17 bytes a pixel at the peak, 400-450 MiB a worker for a 24 MP photo, some
3.4 GB for one of the 200 MP labd accepts.  libwebp itself can scale while it decodes (its
rescaler averages the pixels of each output pixel's area) into a buffer of the caller's:
a 24 MP WebP for a 10x15 then takes a 7 MB buffer.  This is a small ctypes binding to the
system's libwebp (Debian's ``libwebp7``), in the manner of labd.convert.turbojpeg, using
libwebp's advanced decoding API (WebPInitDecoderConfigInternal, WebPGetFeaturesInternal,
WebPDecode, WebPFreeDecBuffer): the structures below are those of decode.h, ABI 0x0209
(libwebp 1.x; Debian 12 has 1.2.4); a libwebp whose ABI is not compatible refuses to
initialise them, and the caller decodes with Pillow.  Where the library is missing,
:func:`available` says so, and the caller decodes with Pillow too.
"""

from __future__ import annotations

import ctypes
from typing import Final

from labd.convert import clib

# decode.h
_ABI_VERSION: Final = 0x0209
_MODE_RGB: Final = 0
_MODE_PREMULTIPLIED_RGBA: Final = 7  # MODE_rgbA
_STATUS_OK: Final = 0
_STATUS: Final = {
    1: "out of memory",
    2: "invalid parameter",
    3: "damaged data",
    4: "unsupported feature",
    5: "suspended",
    6: "aborted",
    7: "truncated data",
}
# The Debian package's library.
LIBRARY: Final = "libwebp.so.7"
PACKAGE: Final = "libwebp7"


class WebPError(Exception):
    """libwebp refused the data."""


class _Features(ctypes.Structure):
    _fields_ = (
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("has_alpha", ctypes.c_int),
        ("has_animation", ctypes.c_int),
        ("format", ctypes.c_int),
        ("pad", ctypes.c_uint32 * 5),
    )


class _RGBA(ctypes.Structure):
    _fields_ = (("rgba", ctypes.c_void_p), ("stride", ctypes.c_int), ("size", ctypes.c_size_t))


class _YUVA(ctypes.Structure):
    _fields_ = (
        *((plane, ctypes.c_void_p) for plane in ("y", "u", "v", "a")),
        *((stride, ctypes.c_int) for stride in ("y_stride", "u_stride", "v_stride", "a_stride")),
        *((size, ctypes.c_size_t) for size in ("y_size", "u_size", "v_size", "a_size")),
    )


class _Buffers(ctypes.Union):
    _fields_ = (("RGBA", _RGBA), ("YUVA", _YUVA))


class _Output(ctypes.Structure):
    _fields_ = (
        ("colorspace", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("is_external_memory", ctypes.c_int),
        ("u", _Buffers),
        ("pad", ctypes.c_uint32 * 4),
        ("private_memory", ctypes.c_void_p),
    )


class _Options(ctypes.Structure):
    _fields_ = (
        *(
            (name, ctypes.c_int)
            for name in (
                "bypass_filtering",
                "no_fancy_upsampling",
                "use_cropping",
                "crop_left",
                "crop_top",
                "crop_width",
                "crop_height",
                "use_scaling",
                "scaled_width",
                "scaled_height",
                "use_threads",
                "dithering_strength",
                "flip",
                "alpha_dithering_strength",
            )
        ),
        ("pad", ctypes.c_uint32 * 5),
    )


class _Config(ctypes.Structure):
    _fields_ = (("input", _Features), ("output", _Output), ("options", _Options))


class _Lib:
    """The library's functions, typed for ctypes."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        data = (ctypes.c_char_p, ctypes.c_size_t)  # a WebP file and its length
        config, int_ = ctypes.POINTER(_Config), ctypes.c_int
        self.init = clib.typed(lib.WebPInitDecoderConfigInternal, int_, config, int_)
        # a WebP file, its features, the ABI version
        features = ctypes.POINTER(_Features)
        self.features = clib.typed(lib.WebPGetFeaturesInternal, int_, *data, features, int_)
        self.decode = clib.typed(lib.WebPDecode, int_, *data, config)
        self.free = clib.typed(lib.WebPFreeDecBuffer, None, ctypes.POINTER(_Output))
        if not self.init(ctypes.byref(_Config()), _ABI_VERSION):  # as unusable as missing
            raise OSError(f"{LIBRARY}'s decoding interface is not ABI {_ABI_VERSION:#06x}")


_library = clib.loader(LIBRARY, _Lib)


def available() -> bool:
    """Whether the system's libwebp could be loaded, with the decoding interface labd was
    written for."""
    return _library() is not None


def decode(
    data: bytes | clib.Writable,
    size: tuple[int, int],
    scaled: tuple[int, int],
    *,
    into: clib.Allocate = bytearray,
) -> tuple[clib.Writable, int]:
    """``data`` (a still WebP of ``size``, as the caller has checked) decoded and scaled to
    ``scaled`` (at most ``size``): the pixels, packed, and their bands: 3 (RGB), or 4 where
    the photo has transparency (RGBA, the colours premultiplied by the alpha, so that
    putting the photo on white is adding ``255 - alpha``).  ``into`` gives the buffer of
    that many bytes the pixels are written to (a fresh one by default).

    Raises WebPError for what libwebp refuses (damaged or truncated data, an animation, a
    frame of another size), and RuntimeError when the library is missing or not
    compatible (see :func:`available`).
    """
    lib = _library()
    if lib is None:
        raise RuntimeError(f"{LIBRARY} is not installed")
    chars = clib.chars(data)
    config = _Config()
    if not lib.init(ctypes.byref(config), _ABI_VERSION):
        raise RuntimeError(f"{LIBRARY} does not have the decoding interface labd was written for")
    status = lib.features(chars, len(chars), ctypes.byref(config.input), _ABI_VERSION)
    if status != _STATUS_OK:
        raise WebPError(_STATUS.get(status, f"status {status}"))
    found = (config.input.width, config.input.height)
    if found != size:
        raise WebPError(f"the frame is {found[0]} x {found[1]}, not {size[0]} x {size[1]}")
    if config.input.has_animation:
        raise WebPError("an animation")
    width, height = scaled
    if not (0 < width <= size[0] and 0 < height <= size[1]):
        raise ValueError(f"cannot scale {size[0]} x {size[1]} to {width} x {height}")
    bands = 4 if config.input.has_alpha else 3
    pixels = into(width * height * bands)
    target = (ctypes.c_char * len(pixels)).from_buffer(pixels)
    try:
        if scaled != size:
            config.options.use_scaling = 1
            config.options.scaled_width, config.options.scaled_height = scaled
        output = config.output
        output.colorspace = _MODE_PREMULTIPLIED_RGBA if bands == 4 else _MODE_RGB
        output.is_external_memory = 1
        output.u.RGBA.rgba = ctypes.addressof(target)
        output.u.RGBA.stride = width * bands
        output.u.RGBA.size = len(pixels)
        status = lib.decode(chars, len(chars), ctypes.byref(config))
        lib.free(ctypes.byref(config.output))
    finally:
        del target  # the buffer may be freed, or lent again (labd.convert.buffers)
    if status != _STATUS_OK:
        raise WebPError(_STATUS.get(status, f"status {status}"))
    return pixels, bands
