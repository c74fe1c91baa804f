"""The system's LittleCMS 2, for labd's colour tables (labd.convert.tables): a transform
evaluated exactly, in floating point, to sample a 3D table from and to try a table against;
littlecms' own 8-bit transform, to compare with; and a matrix profile's primaries and
curves, for the matrix path.

Pillow's and libvips' LittleCMS give 8 or 16 bits a channel, and at those depths littlecms
itself approximates a transform by a table (16-bit) or clips what the output profile
cannot show (8-bit).  A table sampled from either carries those approximations, and
interpolating a clipped transform goes wrong where it bends: an Adobe RGB photo's greens,
outside sRGB, came out up to 18 code values off.  In floating point littlecms evaluates
the profiles' curves and matrices as they are and, for matrix profiles, does not clip
(values below 0 or above 1 come out as such), so labd's table follows a smooth function
and clips after interpolating, as littlecms' 8-bit transform does.

A small ctypes binding to Debian's ``liblcms2-2`` (the library Pillow and libvips bundle
their own copies of, without a way in): cmsOpenProfileFromMem, cmsCloseProfile,
cmsCreateTransform, cmsDoTransform, cmsDeleteTransform, cmsIsMatrixShaper, cmsReadTag,
cmsEvalToneCurveFloat, cmsReverseToneCurve, cmsFreeToneCurve.  Where it is missing,
:func:`available` says so and labd converts colours with libvips' littlecms, photo by
photo.
"""

from __future__ import annotations

import array
import ctypes
import functools
import weakref
from dataclasses import dataclass
from typing import Final

from labd.convert import clib
from labd.model import RenderingIntent

LIBRARY: Final = "liblcms2.so.2"
# lcms2.h's TYPE_RGB_FLT: float, RGB colour space, 3 channels, 4 bytes each
_TYPE_RGB_FLT: Final = (1 << 22) | (4 << 16) | (3 << 3) | 4
# and TYPE_RGB_8: RGB colour space, 3 channels, 1 byte each
_TYPE_RGB_8: Final = (4 << 16) | (3 << 3) | 1
_FLAGS_NOCACHE: Final = 0x0040
_FLAGS_BLACKPOINTCOMPENSATION: Final = 0x2000
_INTENTS: Final = {RenderingIntent.PERCEPTUAL: 0, RenderingIntent.RELATIVE: 1}


class LittleCMSError(Exception):
    """littlecms refused a profile or the transform between two."""


class _Lib:
    """The library's functions, typed for ctypes."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        handle, u32 = ctypes.c_void_p, ctypes.c_uint32
        self.open = clib.typed(lib.cmsOpenProfileFromMem, handle, ctypes.c_char_p, u32)
        self.close = clib.typed(lib.cmsCloseProfile, ctypes.c_int, handle)
        # input profile and format, output profile and format, intent, flags
        self.create = clib.typed(lib.cmsCreateTransform, handle, handle, u32, handle, u32, u32, u32)
        self.delete = clib.typed(lib.cmsDeleteTransform, None, handle)
        # transform, input, output, pixels
        self.do = clib.typed(
            lib.cmsDoTransform, None, handle, ctypes.c_void_p, ctypes.c_void_p, u32
        )
        self.is_matrix_shaper = clib.typed(lib.cmsIsMatrixShaper, ctypes.c_int, handle)
        self.read_tag = clib.typed(lib.cmsReadTag, handle, handle, u32)
        self.eval_curve = clib.typed(
            lib.cmsEvalToneCurveFloat, ctypes.c_float, handle, ctypes.c_float
        )
        self.reverse_curve = clib.typed(lib.cmsReverseToneCurve, handle, handle)
        self.free_curve = clib.typed(lib.cmsFreeToneCurve, None, handle)


_library = clib.loader(LIBRARY, _Lib)


def available() -> bool:
    """Whether the system's littlecms could be loaded."""
    return _library() is not None


class _XYZ(ctypes.Structure):
    _fields_ = [("X", ctypes.c_double), ("Y", ctypes.c_double), ("Z", ctypes.c_double)]


def _signature(tag: str) -> int:
    return int.from_bytes(tag.encode("ascii"), "big")


@dataclass(frozen=True)
class Shaper:
    """A matrix profile as littlecms reads it: its primaries, and its curves sampled."""

    # RGB -> XYZ (D50): the red, green and blue colorants as columns, row by row.
    matrix: tuple[float, ...]
    # Per channel: the curve at the 8-bit values (0..255), code value -> linear light.
    linear: tuple[tuple[float, ...], ...]
    # Per channel: the inverse curve at n / (samples - 1), linear light -> code value (0..1);
    # empty where it was not asked for.
    encoded: tuple[tuple[float, ...], ...]


@functools.lru_cache(maxsize=8)
def shaper(icc: bytes, samples: int = 0) -> Shaper | None:
    """The matrix profile ``icc`` (primaries and curves; inverse curves at ``samples``
    points, none for 0), or None for any other profile (lookup tables) or one littlecms
    cannot read."""
    lib = _library()
    if lib is None:
        raise RuntimeError(f"{LIBRARY} is not installed")
    profile = lib.open(icc, len(icc))
    if not profile:
        return None
    try:
        if not lib.is_matrix_shaper(profile):
            return None
        columns = []
        for tag in ("rXYZ", "gXYZ", "bXYZ"):
            found = lib.read_tag(profile, _signature(tag))
            if not found:
                return None
            xyz = ctypes.cast(found, ctypes.POINTER(_XYZ)).contents
            columns.append((xyz.X, xyz.Y, xyz.Z))
        linear, encoded = [], []
        for tag in ("rTRC", "gTRC", "bTRC"):
            curve = lib.read_tag(profile, _signature(tag))
            if not curve:
                return None
            linear.append(tuple(lib.eval_curve(curve, v / 255) for v in range(256)))
            if samples:
                encoded.append(_inverse_curve(lib, curve, samples))
    finally:
        lib.close(profile)
    matrix = tuple(columns[c][row] for row in range(3) for c in range(3))
    return Shaper(matrix, tuple(linear), tuple(encoded))


def _inverse_curve(lib: _Lib, curve: int, samples: int) -> tuple[float, ...]:
    """``curve`` inverted by littlecms, at n / (samples - 1)."""
    inverse = lib.reverse_curve(curve)
    if not inverse:
        raise LittleCMSError("littlecms could not invert a tone curve")
    try:
        step = 1 / (samples - 1)
        return tuple(lib.eval_curve(inverse, n * step) for n in range(samples))
    finally:
        lib.free_curve(inverse)


class Transform:
    """The transform from the RGB profile ``source`` to the RGB profile ``target`` (ICC
    bytes) with a rendering intent and black point compensation; ``floats_in`` and
    ``floats_out`` say whether it takes and gives float32 RGB (0..1 in; out unbounded for
    matrix profiles) or 8-bit RGB.  With floats on either side littlecms evaluates the
    profiles exactly; 8-bit both sides is its fast transform, a table of its own.  Raises
    LittleCMSError if littlecms refuses the profiles, RuntimeError when it is missing."""

    def __init__(
        self,
        source: bytes,
        target: bytes,
        intent: RenderingIntent,
        *,
        black_point_compensation: bool,
        floats_in: bool = True,
        floats_out: bool = True,
    ) -> None:
        lib = _library()
        if lib is None:
            raise RuntimeError(f"{LIBRARY} is not installed")
        profiles = [lib.open(icc, len(icc)) for icc in (source, target)]
        try:
            if not all(profiles):
                raise LittleCMSError("littlecms could not read a profile")
            flags = _FLAGS_NOCACHE
            if black_point_compensation:
                flags |= _FLAGS_BLACKPOINTCOMPENSATION
            handle = lib.create(
                profiles[0],
                _TYPE_RGB_FLT if floats_in else _TYPE_RGB_8,
                profiles[1],
                _TYPE_RGB_FLT if floats_out else _TYPE_RGB_8,
                _INTENTS[intent],
                flags,
            )
        finally:
            for profile in profiles:
                if profile:
                    lib.close(profile)
        if not handle:
            raise LittleCMSError("littlecms could not make the transform")
        self._lib, self._handle = lib, handle
        self._floats_in, self._floats_out = floats_in, floats_out
        weakref.finalize(self, lib.delete, handle)

    def to_floats(self, colours: array.array[float] | bytes) -> array.array[float]:
        """``colours`` (RGB, three values a colour) through a transform to floats."""
        count = self._count(colours)
        if not self._floats_out:
            raise TypeError("this transform gives 8-bit RGB")
        out = array.array("f", bytes(4 * 3 * count))
        self._do(colours, out.buffer_info()[0], count)
        return out

    def to_bytes(self, colours: array.array[float] | bytes) -> bytearray:
        """``colours`` (RGB, three values a colour) through a transform to 8-bit RGB."""
        count = self._count(colours)
        if self._floats_out:
            raise TypeError("this transform gives float RGB")
        out = bytearray(3 * count)
        target = (ctypes.c_char * len(out)).from_buffer(out)
        self._do(colours, ctypes.addressof(target), count)
        del target
        return out

    def _count(self, colours: array.array[float] | bytes) -> int:
        floats = isinstance(colours, array.array) and colours.typecode == "f"
        if floats != self._floats_in or len(colours) % 3:
            kind = "float32" if self._floats_in else "8-bit"
            raise ValueError(f"this transform takes {kind} RGB, three values a colour")
        return len(colours) // 3

    def _do(self, colours: array.array[float] | bytes, out: int, count: int) -> None:
        if isinstance(colours, array.array):
            self._lib.do(self._handle, colours.buffer_info()[0], out, count)
        else:
            self._lib.do(self._handle, colours, out, count)
