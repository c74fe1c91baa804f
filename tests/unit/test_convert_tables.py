"""Colour transforms as tables (labd.convert.tables and its C module, labd/convert/_tables.c;
labd.convert.littlecms): the kernels compute what they are meant to, pixel for pixel; a
table is used only where it is as faithful as littlecms' own 8-bit transform; bad tables
are refused with nothing changed; and a camera JPEG's print is converted by them."""

from __future__ import annotations

import array
import os
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from labd.convert import colour, convert_image, jpegdecode, littlecms, tables
from labd.model import OutputFormat, Product, RenderingIntent
from tests.imagegen import adobe_rgb_like_profile, make_photo, rgb_lut_profile

PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)
PERCEPTUAL = RenderingIntent.PERCEPTUAL


def test_the_module_was_built() -> None:
    """scripts/setup installs a C compiler: without the module labd is slower, not wrong,
    so nothing else would notice it missing."""
    assert tables.available()
    assert littlecms.available()


def test_the_identity_table_changes_no_pixel() -> None:
    pixels = bytearray(os.urandom(3 * 100_003))
    original = bytes(pixels)
    tables.apply(tables.identity(), pixels)
    assert pixels == original


def _reference(pixels: bytes, table: tables.Table) -> bytes:
    """Tetrahedral interpolation written plainly: each channel on its own, the corners
    walked by falling position, the result rounded, less the offset and clipped."""
    n = table.points
    strides = (n * n, n, 1)
    shift = table.fraction_bits + 8
    out = bytearray()
    for i in range(0, len(pixels), 3):
        cells = []
        for v in pixels[i : i + 3]:
            pos = (v * (n - 1) * 257 + 128) >> 8
            index, fraction = pos >> 8, pos & 255
            if index == n - 1:
                index, fraction = n - 2, 256
            cells.append((index, fraction))
        base = sum(index * stride for (index, _), stride in zip(cells, strides, strict=True))
        order = sorted(range(3), key=lambda axis: -cells[axis][1])
        hi, mid, lo = (cells[axis][1] for axis in order)
        corners = [base, base + strides[order[0]], base + strides[order[0]] + strides[order[1]]]
        corners.append(base + sum(strides))
        weights = (256 - hi, hi - mid, mid - lo, lo)
        for channel in range(3):
            values = [table.entries[c] >> (21 * channel) & (2**21 - 1) for c in corners]
            total = sum(v * w for v, w in zip(values, weights, strict=True)) + (1 << (shift - 1))
            out.append(min(255, max(0, (total >> shift) - table.offset)))
    return bytes(out)


def _random_table(points: int, fraction_bits: int, offset: int, top: int) -> tables.Table:
    """A table of random values up to ``top``: no transform's smoothness to hide behind."""
    rng = random.Random(points)  # noqa: S311  (test data, the same on every run)
    fields = [[rng.randint(0, top) for _ in range(3)] for _ in range(points**3)]
    entries = array.array("Q", (r | g << 21 | b << 42 for r, g, b in fields))
    return tables.Table(points, entries, fraction_bits, offset)


RANDOM_TABLES = [
    pytest.param(5, 5, 0, 255 * 32, id="code-values"),
    pytest.param(4, 2, 700, 8160, id="below-0-and-above-255"),
    pytest.param(2, 0, 100, 400, id="two-points-whole-values"),
]


@pytest.mark.parametrize("vector", [True, False], ids=["vector", "portable"])
@pytest.mark.parametrize(("points", "fraction_bits", "offset", "top"), RANDOM_TABLES)
def test_the_table_kernel_interpolates_as_written(
    points: int, fraction_bits: int, offset: int, top: int, *, vector: bool
) -> None:
    """A random table on random pixels and on every corner of the cube, with the
    processor's vector instructions (where it has them) and without: the kernel's bytes
    are the plain reference's.  2,008 pixels: 125 blocks of sixteen and a rest of eight."""
    table = _random_table(points, fraction_bits, offset, top)
    rng = random.Random(points)  # noqa: S311
    pixels = bytes(rng.randrange(256) for _ in range(3 * 2000)) + bytes(
        v for r in (0, 255) for g in (0, 255) for b in (0, 255) for v in (r, g, b)
    )
    converted = bytearray(pixels)
    tables.apply(table, converted, vector=vector)
    assert converted == _reference(pixels, table)


@pytest.fixture(scope="module")
def every_colour() -> bytes:
    """Every 8-bit RGB colour once, red slowest (48 MiB)."""
    blues = bytes(v for b in range(256) for v in (0, 0, b))
    pixels = bytearray(3 << 24)
    for r in range(256):
        for g in range(256):
            start = 3 * (r << 16 | g << 8)
            pixels[start : start + 768] = blues
            pixels[start : start + 768 : 3] = bytes((r,)) * 256
            pixels[start + 1 : start + 768 : 3] = bytes((g,)) * 256
    return bytes(pixels)


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(
            lambda: tables.for_profiles(
                colour.SRGB_ICC, rgb_lut_profile("LUT"), "perceptual", black_point_compensation=True
            ),
            id="printer-profile",
        ),
        pytest.param(lambda: _random_table(5, 5, 0, 255 * 32), id="random-code-values"),
        pytest.param(lambda: _random_table(17, 2, 700, 8160), id="random-clipped"),
    ],
)
def test_vector_and_portable_kernels_give_every_colour_the_same_bytes(
    table: Callable[[], tables.Table | tables.Matrix | None], every_colour: bytes
) -> None:
    """The AVX-512 kernel is the portable one's arithmetic, sixteen pixels at a time: on
    every one of the 16.7 million 8-bit colours (ties between fractions, the cube's faces and
    corners among them) the two give the same bytes."""
    if tables.vector() is None:
        pytest.skip("this processor has no AVX-512: labd uses the portable kernel only")
    converter = table()
    assert isinstance(converter, tables.Table)
    vector, portable = bytearray(every_colour), bytearray(every_colour)
    tables.apply(converter, vector, vector=True)
    tables.apply(converter, portable, vector=False)
    assert vector != every_colour  # the table changed colours: a kernel ran
    assert vector == portable


def test_the_vector_kernel_is_used_where_the_processor_has_it() -> None:
    """The processor's flags (/proc/cpuinfo) say whether the tables should be applied with
    AVX-512: the module's own check must agree, or labd would run the slower kernel (or
    fault on a processor without it)."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text(encoding="ascii").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    needed = {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512vbmi"}
    assert tables.vector() == ("AVX-512" if needed <= flags else None)


def _probe_through(converter: tables.Table | tables.Matrix) -> bytearray:
    colours = bytearray(tables.probe())
    tables.apply(converter, colours)
    return colours


def _errors(
    source: bytes, target: bytes, converter: tables.Table | tables.Matrix
) -> tuple[tables.Errors, tables.Errors]:
    """The converter's errors and littlecms' 8-bit transform's, against the exact one."""
    colours = tables.probe()
    rounded = littlecms.Transform(
        source, target, PERCEPTUAL, black_point_compensation=True, floats_out=False
    )
    fast = littlecms.Transform(
        source,
        target,
        PERCEPTUAL,
        black_point_compensation=True,
        floats_in=False,
        floats_out=False,
    )
    exact = rounded.to_bytes(tables.as_floats(colours))
    return tables.errors(_probe_through(converter), exact), tables.errors(
        fast.to_bytes(colours), exact
    )


def test_a_printer_profile_becomes_a_3d_table_as_faithful_as_littlecms() -> None:
    printer = rgb_lut_profile("Test printer")
    converter = tables.for_profiles(
        colour.SRGB_ICC, printer, "perceptual", black_point_compensation=True
    )
    assert isinstance(converter, tables.Table)
    ours, theirs = _errors(colour.SRGB_ICC, printer, converter)
    assert ours.within(theirs), (ours, theirs)
    assert ours.mean < 0.2  # the same ballpark as littlecms, not merely "within"


def test_two_matrix_profiles_give_littlecms_8bit_result() -> None:
    """Adobe RGB to sRGB by curves and a matrix: littlecms' own 8-bit result, bit for bit
    (its fixed point and rounding), saturated greens clipped as it clips them."""
    adobe = adobe_rgb_like_profile()
    converter = tables.for_profiles(
        adobe, colour.SRGB_ICC, "perceptual", black_point_compensation=True
    )
    assert isinstance(converter, tables.Matrix)
    fast = littlecms.Transform(
        adobe,
        colour.SRGB_ICC,
        PERCEPTUAL,
        black_point_compensation=True,
        floats_in=False,
        floats_out=False,
    )
    assert _probe_through(converter) == fast.to_bytes(tables.probe())
    green = bytearray((0, 255, 0))
    tables.apply(converter, green)
    assert green[0] == 0
    assert green[1] == 255


def test_a_3d_table_is_refused_where_it_cannot_follow_the_transform() -> None:
    """Interpolated between grid points, Adobe RGB to sRGB goes wrong where sRGB clips:
    the check that decides whether a table is used says so."""
    adobe = adobe_rgb_like_profile()
    exact = littlecms.Transform(adobe, colour.SRGB_ICC, PERCEPTUAL, black_point_compensation=True)
    ours, theirs = _errors(adobe, colour.SRGB_ICC, tables.build(exact.to_floats))
    assert not ours.within(theirs)
    assert ours.largest > 5 >= theirs.largest


def test_exact_transforms_keep_what_srgb_cannot_show() -> None:
    adobe = adobe_rgb_like_profile()
    exact = littlecms.Transform(adobe, colour.SRGB_ICC, PERCEPTUAL, black_point_compensation=True)
    out = exact.to_floats(array.array("f", (0.0, 1.0, 0.0, 0.5, 0.5, 0.5)))
    assert out[0] < -0.1  # Adobe RGB's green has negative sRGB red
    assert all(abs(v - out[4]) < 0.01 for v in out[3:])  # grey stays grey


# --- bad input: a clear error, nothing changed ------------------------------------------------


@pytest.mark.parametrize(
    ("pixels", "table", "message"),
    [
        pytest.param(bytearray(b"\x10" * 10), None, "whole RGB triples", id="not-triples"),
        pytest.param(bytearray(b"\x10" * 9), "short", "points\\*\\*3", id="table-too-short"),
        pytest.param(bytearray(b"\x10" * 9), "large", "above 8160", id="value-too-large"),
        pytest.param(bytearray(b"\x10" * 9), "bits", "fraction bits", id="too-many-bits"),
    ],
)
def test_a_bad_table_is_refused_and_changes_nothing(
    pixels: bytearray, table: str | None, message: str
) -> None:
    good = tables.identity(3)
    bad = {
        None: good,
        "short": replace(good, entries=good.entries[:-1]),
        "large": replace(good, entries=array.array("Q", [8161] * 27)),
        "bits": replace(good, fraction_bits=6),
    }[table]
    before = bytes(pixels)
    with pytest.raises(ValueError, match=message):
        tables.apply(bad, pixels)
    assert pixels == before


def test_read_only_pixels_are_refused() -> None:
    with pytest.raises(TypeError):
        tables.apply(tables.identity(3), bytes(9))  # type: ignore[arg-type]


def test_a_matrix_too_large_for_the_kernel_is_refused() -> None:
    converter = tables.for_profiles(
        adobe_rgb_like_profile(), colour.SRGB_ICC, "relative", black_point_compensation=False
    )
    assert isinstance(converter, tables.Matrix)
    bad = replace(converter, terms=array.array("i", [2**29 + 1] * 3 * 256 * 4))
    pixels = bytearray(b"\x80" * 30)
    with pytest.raises(ValueError, match="too large"):
        tables.apply(bad, pixels)
    assert pixels == b"\x80" * 30


def test_littlecms_refuses_a_damaged_profile() -> None:
    with pytest.raises(littlecms.LittleCMSError):
        littlecms.Transform(
            b"not a profile", colour.SRGB_ICC, PERCEPTUAL, black_point_compensation=False
        )


def test_a_lookup_table_profile_is_no_matrix_profile() -> None:
    assert littlecms.shaper(rgb_lut_profile("Test printer"), tables.ONE + 1) is None
    srgb = littlecms.shaper(colour.SRGB_ICC, tables.ONE + 1)
    assert srgb is not None
    assert abs(sum(srgb.matrix[3:6]) - 1.0) < 0.01  # the primaries' Y add up to white's


# --- in a conversion -------------------------------------------------------------------------


def _printer_product() -> Product:
    return replace(PRINT_6X4, output_icc=rgb_lut_profile("Test printer"), jpeg_subsampling="4:4:4")


def test_a_camera_jpeg_for_a_printer_is_converted_by_its_table(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The print through the table is littlecms' print (libvips, photo by photo, what labd
    does without labd's C module) within JPEG rounding; the table is built once."""
    src = make_photo(tmp_path / "in.jpg", (3000, 2000), noise=6)
    product = _printer_product()
    tables.for_profiles.cache_clear()
    by_table = convert_image(product, src, out_dir / "table.jpg")
    convert_image(product, src, out_dir / "again.jpg")
    info = tables.for_profiles.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    monkeypatch.setattr(tables, "_tables", None)  # as if the C module had not been built
    assert not tables.available()
    by_littlecms = convert_image(product, src, out_dir / "littlecms.jpg")
    with Image.open(by_table.output) as a, Image.open(by_littlecms.output) as b:
        assert a.size == b.size
        difference = ImageStat.Stat(ImageChops.difference(a, b))
    assert max(difference.mean) < 1.0, difference.mean
    assert (out_dir / "again.jpg").read_bytes() == by_table.output.read_bytes()


def test_only_the_rows_the_print_uses_are_converted(tmp_path: Path) -> None:
    """A tall photo filling a square print is cropped top and bottom: the table is applied
    to the rows the print shows (decoded at 4/8: 1000 x 3000, the middle 1000 rows), not
    to the whole decoded photo."""
    src = make_photo(tmp_path / "tall.jpg", (2000, 6000), noise=0)

    def square(size: tuple[int, int]) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
        width, height = size
        return (900, 900), (0, (height - width) / 2, width, (height + width) / 2)

    with Image.open(src) as img:
        scaled = jpegdecode.decode_scaled(src, img, (900, 900), square)
    assert scaled is not None
    assert scaled.source is not None
    assert scaled.size == (900, 900)
    assert scaled.source.nbytes == 3 * 1000 * 1000
