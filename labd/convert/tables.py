"""Colour transforms of 8-bit RGB as tables, applied in place by labd's C module
(labd/convert/_tables.c).

A camera JPEG for a printer's profile, or an Adobe RGB photo for an sRGB print, needs its
colours converted.  littlecms, inside libvips, rebuilt the transform for every photo (31
ms for a printer's lookup-table profile, 3 ms for a matrix profile) and then spent 11-22 ns
a pixel on the lab's print server; Pillow's LittleCMS and its Color3DLUT filter are no
faster.  That was a third of the cost of a 20x30 print.  Here a transform becomes, once
per process and profile pair, from littlecms' exact floating-point transform
(labd.convert.littlecms):

- between two matrix profiles, a :class:`Matrix`: curves and a matrix in littlecms' own
  8-bit fixed point and rounding, its result to the bit, in 2 ns a pixel;
- otherwise a :class:`Table`: 33 points per axis (what littlecms builds for 8-bit RGB),
  tetrahedral interpolation (its method), values outside 0..255 kept and clipped after
  interpolating, in about 4 ns a pixel (3.4 with AVX-512: :func:`vector`).

Before use, each is tried against the exact transform on 54,872 colours (:func:`errors`)
and kept only where it is as faithful as littlecms' own 8-bit transform
(:func:`for_profiles`).  bench/convert.py measures the cost (part 4: the
engines side by side), bench/quality.py the result against an exact full-size reference.
Where the module was not built (no C compiler when labd was installed) :func:`available`
is false, littlecms inside libvips converts the colours, and `labd doctor` says so.
"""

from __future__ import annotations

import array
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

import structlog
from PIL import Image, ImageChops

from labd.convert import littlecms
from labd.model import RenderingIntent

try:
    from labd.convert import _tables
except ImportError:  # not built: see available()
    _tables = None  # type: ignore[assignment]

log = structlog.get_logger(__name__)

# Points per axis: littlecms' own for 8-bit RGB transforms.
POINTS: Final = 33
# The largest value of a table (labd/convert/_tables.c: four of them weighted by 256 fit 21
# bits), and the most fraction bits a value has.
_MAX_VALUE: Final = 8160
_MAX_FRACTION_BITS: Final = 5
# Bits between the three channels of an entry.
_FIELD: Final = 21
# Linear light 1.0 in the matrix kernel's fixed point (1.14, as littlecms' own).
ONE: Final = 16384
# The most a product of the matrix kernel may be in size: three and the rounding fit 32 bits.
_MAX_PRODUCT: Final = 1 << 29
# 0, 7, ... 252 and 255 on each channel: 54,872 colours a table is tried on (in 20 ms).
_PROBE_AXIS: Final = bytes([*range(0, 256, 7), 255])
# How much worse than littlecms' 8-bit transform a table may be on average, in code values.
_MEAN_SLACK: Final = 0.02

# A transform of float RGB (three values a colour, 0..1 in, unbounded out), as many colours.
FloatTransform: TypeAlias = "Callable[[array.array[float]], array.array[float]]"


@dataclass(frozen=True)
class Table:
    """A transform sampled at ``points`` per axis, packed for the kernel: each value is
    (code value + ``offset``) * 2**``fraction_bits``."""

    points: int
    entries: array.array[int]  # points**3 native 64-bit words, red slowest, blue fastest
    fraction_bits: int
    offset: int


class TableError(ValueError):
    """A transform's outputs span more than a table can hold."""


def available() -> bool:
    """Whether labd's C module was built (labd then converts colours with it)."""
    return _tables is not None


def vector() -> str | None:
    """The vector instructions the 3D tables are applied with on this processor
    ("AVX-512"), or None: portable C (the same bytes, more slowly), or no C module."""
    return None if _tables is None else _tables.vector()


def build(transform: FloatTransform, points: int = POINTS) -> Table:
    """The table of ``transform``, sampled on an even grid of ``points`` per axis.

    The outputs are kept as they come, below 0 and above 1 included, with as many fraction
    bits as their span allows (5, 1/32 of a code value, for a printer's profile; 2 for an
    Adobe RGB photo to sRGB, whose greens reach -5).  Raises TableError for a span of more
    than 8160 code values."""
    outputs = transform(_grid(points))
    low = math.floor(min(0.0, min(outputs) * 255))
    high = math.ceil(max(255.0, max(outputs) * 255))
    bits = _MAX_FRACTION_BITS
    while bits and (high - low) << bits > _MAX_VALUE:
        bits -= 1
    if (high - low) << bits > _MAX_VALUE:
        raise TableError(f"outputs from {low} to {high}: more than a table holds")
    scale, offset = 1 << bits, -low
    # round((v * 255 + offset) * scale), mapped (108k values: 15 ms where a loop takes 60)
    fixed = list(
        map(round, map(float(offset * scale).__add__, map((255.0 * scale).__mul__, outputs)))
    )
    entries = array.array("Q", map(_entry, fixed[0::3], fixed[1::3], fixed[2::3]))
    return Table(points, entries, bits, offset)


def _entry(red: int, green: int, blue: int) -> int:
    return red | green << _FIELD | blue << 2 * _FIELD


@functools.cache
def _grid(points: int) -> array.array[float]:
    """Every colour of an even grid of ``points`` per axis, float RGB, red slowest."""
    axis = [n / (points - 1) for n in range(points)]
    return array.array("f", (v for r in axis for g in axis for b in axis for v in (r, g, b)))


@functools.cache
def probe() -> bytes:
    """0, 7, ... 252 and 255 on each channel (54,872 colours), packed 8-bit RGB: what a
    table is tried on."""
    axis = _PROBE_AXIS
    n = len(axis)
    colours = bytearray(3 * n**3)
    colours[0::3] = bytes(v for v in axis for _ in range(n * n))
    colours[1::3] = bytes(v for v in axis for _ in range(n)) * n
    colours[2::3] = axis * n * n
    return bytes(colours)


def as_floats(colours: bytes) -> array.array[float]:
    """8-bit values as floats, 0..1."""
    return array.array("f", map(_FLOATS.__getitem__, colours))


@functools.cache
def probe_floats() -> array.array[float]:
    """probe() as floats, 0..1 (the array is shared: not to be changed)."""
    return as_floats(probe())


_FLOATS: Final = [v / 255 for v in range(256)]


@dataclass(frozen=True)
class Errors:
    """How far one result is from another, in code values: the most, and on average."""

    largest: int
    mean: float

    def within(self, other: Errors) -> bool:
        """Whether these errors are no worse than ``other`` (littlecms' own 8-bit transform
        against the exact one), give or take a code value at most and a little on average."""
        return self.largest <= max(other.largest, 1) + 1 and self.mean <= other.mean + _MEAN_SLACK


def errors(result: bytes | bytearray, expected: bytes | bytearray) -> Errors:
    """How far the packed 8-bit RGB ``result`` is from ``expected``."""
    size = (len(result) // 3, 1)
    difference = ImageChops.difference(
        Image.frombytes("RGB", size, bytes(result)), Image.frombytes("RGB", size, bytes(expected))
    )
    histogram = difference.histogram()  # 256 counts for each of the three bands
    largest = max(v % 256 for v, count in enumerate(histogram) if count)
    total = sum((v % 256) * count for v, count in enumerate(histogram))
    return Errors(largest, total / len(result))


@dataclass(frozen=True)
class Matrix:
    """A transform between two matrix profiles, packed for the kernel, as littlecms' 8-bit
    transform computes it: for each channel and 8-bit value, a matrix value times its
    linear light for each output (1.14 times 1.14, and a 0: four to a vector); and the
    output's inverse curves."""

    terms: array.array[int]  # 3 x 256 x 4 native 32-bit integers
    curves_out: bytes  # ONE + 1 code values for each channel, or for all three


def matrix(source: littlecms.Shaper, target: littlecms.Shaper) -> Matrix:
    """The transform from ``source`` to ``target`` (whose inverse curves were sampled at
    ONE + 1 points): linear light in the one to XYZ, XYZ to linear light in the other, in
    littlecms' fixed point and rounding (cmsopt.c, OptimizeMatrixShaper).  Raises
    TableError where the matrix or the curves are too large for it (primaries far wider
    than the output's)."""
    into = [_fixed14(v) for v in _multiply(_inverse(target.matrix), source.matrix)]
    terms = array.array("i")
    for channel, curve in enumerate(source.linear):
        column = into[channel::3]
        for linear in curve:
            products = [m * _fixed14(linear) for m in column]
            if any(abs(v) > _MAX_PRODUCT for v in products):
                raise TableError("the primaries are too far apart for a matrix")
            terms.extend((*products, 0))
    curves = [bytes(map(_to_8_bits, curve)) for curve in target.encoded]
    if any(len(curve) != ONE + 1 for curve in curves):
        raise ValueError(f"the output curves do not have {ONE + 1} points")
    # One curve for all three where they are the same (sRGB): a third of the cache.
    same = curves[0] == curves[1] == curves[2]
    return Matrix(terms, curves[0] if same else b"".join(curves))


def _fixed14(v: float) -> int:
    """littlecms' DOUBLE_TO_1FIXED14."""
    return math.floor(v * ONE + 0.5)


def _to_8_bits(v: float) -> int:
    """An output curve's value (0..1) as littlecms makes it 8-bit: clipped, to 16 bits
    (_cmsQuickSaturateWord), then to 8 (FROM_16_TO_8)."""
    word = min(65535, max(0, math.floor(min(1.0, max(0.0, v)) * 65535.0 + 0.5)))
    return (word * 65281 + 8388608) >> 24


def _multiply(a: Sequence[float], b: Sequence[float]) -> tuple[float, ...]:
    """The 3x3 matrices (row by row) ``a`` times ``b``."""
    return tuple(
        sum(a[3 * r + k] * b[3 * k + c] for k in range(3)) for r in range(3) for c in range(3)
    )


def _inverse(m: Sequence[float]) -> tuple[float, ...]:
    """The inverse of the 3x3 matrix ``m`` (row by row).  Raises TableError if it has none."""
    a, b, c, d, e, f, g, h, i = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    if abs(det) < 1e-12:
        raise TableError("the output profile's primaries have no inverse")
    cofactors = (
        e * i - f * h, c * h - b * i, b * f - c * e,
        f * g - d * i, a * i - c * g, c * d - a * f,
        d * h - e * g, b * g - a * h, a * e - b * d,
    )  # fmt: skip
    return tuple(v / det for v in cofactors)


@functools.lru_cache(maxsize=8)  # 0.3 MB each; a lab sees few profile pairs
def for_profiles(
    icc: bytes, output: bytes, intent: str, *, black_point_compensation: bool
) -> Table | Matrix | None:
    """The transform from ``icc`` to ``output`` as tables, built once per process from
    littlecms' exact transform (labd.convert.littlecms; 60-110 ms): curves and a matrix
    between two matrix profiles, a 3D table otherwise.  None where they are further from
    the exact transform than littlecms' own 8-bit transform (what libvips would use), or the
    system's littlecms is missing: libvips' littlecms converts each photo then."""
    if not littlecms.available():
        return None
    rendering = RenderingIntent(intent)
    bpc = black_point_compensation
    converter: Table | Matrix
    try:
        exact = littlecms.Transform(icc, output, rendering, black_point_compensation=bpc)
        target = littlecms.shaper(output, ONE + 1)
        source = None if target is None else littlecms.shaper(icc)
        if source is not None and target is not None:
            converter = matrix(source, target)
        else:
            converter = build(exact.to_floats)
        fast = littlecms.Transform(
            icc, output, rendering, black_point_compensation=bpc, floats_in=False, floats_out=False
        )
        rounded = littlecms.Transform(
            icc, output, rendering, black_point_compensation=bpc, floats_out=False
        )
    except (littlecms.LittleCMSError, TableError) as e:
        log.info("convert.colour_table_refused", reason=str(e))
        return None
    colours = probe()
    expected = rounded.to_bytes(probe_floats())
    converted = bytearray(colours)
    apply(converter, converted)
    ours, theirs = (
        errors(converted, expected),
        errors(fast.to_bytes(colours), expected),
    )
    figures = {
        "largest_error": ours.largest,
        "mean_error": round(ours.mean, 4),
        "littlecms_largest_error": theirs.largest,
        "littlecms_mean_error": round(theirs.mean, 4),
    }
    if not ours.within(theirs):
        log.info("convert.colour_table_refused", reason="less faithful than littlecms", **figures)
        return None
    log.debug("convert.colour_table", kind=type(converter).__name__.lower(), **figures)
    return converter


def apply(
    converter: Table | Matrix, pixels: bytearray | memoryview, *, vector: bool = True
) -> None:
    """Convert the packed 8-bit RGB ``pixels`` in place (a 3D table with the processor's
    vector instructions unless ``vector`` is false: the same bytes either way).  Raises
    ValueError when they are not whole RGB triples, and RuntimeError when the module was
    not built."""
    if _tables is None:
        raise RuntimeError("labd's C module labd.convert._tables was not built")
    if isinstance(converter, Matrix):
        _tables.apply_matrix(pixels, converter.terms, converter.curves_out)
    else:
        _tables.apply_table(
            pixels,
            converter.entries,
            converter.points,
            converter.fraction_bits,
            converter.offset,
            vector,
        )


@functools.cache
def identity(points: int = POINTS) -> Table:
    """The table that changes nothing (tests and the benchmark)."""
    return build(lambda colours: colours, points)
