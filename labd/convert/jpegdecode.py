"""Camera JPEGs decoded at the smallest DCT scale the print allows, and made into the print
by libvips, from the decoder's buffer to the JPEG file.

Most of what a lab prints is camera and phone JPEGs far bigger than the print.  Decoding is
most of their cost, and libjpeg-turbo can scale down inside its inverse DCT by any M/8
(M = 1..8), not only by 1/2, 1/4 and 1/8 as libvips' and Pillow's JPEG loaders ask it to:
a 6000x4000 photo for a 10x15 print (1800x1200) decodes at 3/8 (2250x1500, 3.4 MP) instead
of 1/2 (3000x2000, 6 MP), for a 20x30 at 5/8 instead of whole.  libjpeg-turbo (the system's
libturbojpeg, labd.convert.turbojpeg) decodes at that scale into one buffer (kept for the
next photo, and zeroed when the conversion ends: labd.convert.buffers), where labd's
colour tables convert its colours if the print needs it (labd.convert.tables); libvips
takes that buffer without a copy, crops the centre for ``fill``, resamples it with a
Lanczos-3 kernel (the filter of Pillow's LANCZOS, in vector instructions) straight to the
print size, turns it upright, puts it on the border and encodes it.
libvips runs that as one pipeline, a strip at a time: the decoded photo is the only
picture held whole (27 MB for a 20x30, where handing the print to Pillow held three
print-sized copies more, 144 MiB a worker at the peak instead of 88).  bench/convert.py
measures it against the limit route (the same decode, resize and encode, nothing else).

WebP photos take the same route (decode_webp): libwebp scales them to the size the print
needs as it decodes (labd.convert.webp), where Pillow held the whole photo several times
over (17 bytes a pixel).  Every other input stays with Pillow: CMYK JPEGs, JPEGs the print
needs whole (M = 8), PNG, TIFF, HEIF; so does a grey photo with a grey profile, and the
encoding of a 4:2:2 product (libvips encodes 4:4:4 and 4:2:0 only).  The caller has
opened the file with Pillow first, so the format, size, EXIF and ICC profile have been
checked there, and labd.convert.colour has decided whether a colour conversion is due.
libvips only ever works on pixels handed to it: every loader of its own is blocked, its
operation cache keeps nothing (no customer pixels outlive a conversion), and it uses one
thread (labd runs one conversion per core).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Final

import pyvips
import structlog
from PIL import Image

from labd.convert import buffers, clib, colour, tables, turbojpeg, webp
from labd.model import Product

# libvips' own messages would put details of customer files into labd's log; the caller
# reports what went wrong instead.
logging.getLogger("pyvips").setLevel(logging.CRITICAL)
pyvips.cache_set_max(0)
pyvips.cache_set_max_files(0)
pyvips.concurrency_set(1)
pyvips.block_untrusted_set(state=True)
pyvips.operation_block_set("VipsForeignLoad", state=True)  # no file is parsed by libvips

# Pillow's mode of the opened JPEG -> (libjpeg-turbo's colour space, bands).  CMYK stays
# with Pillow, which knows Adobe's inverted CMYK.
_SPACES: Final = {"RGB": ("RGB", 3), "L": ("GRAY", 1)}
EIGHTHS: Final = 8
# EXIF orientation -> libvips' steps that show the photo upright (as ImageOps.exif_transpose).
_UPRIGHT: Final[dict[int, tuple[str, ...]]] = {
    2: ("flip",),
    3: ("d180",),
    4: ("flop",),
    5: ("d90", "flip"),
    6: ("d90",),
    7: ("d270", "flip"),
    8: ("d270",),
}


# Set once libvips has run a pipeline in this process: from then on its thread pool's state
# (threads it believes it has) would be inherited by a forked child, which then waits for
# them for ever.  labd.convert.job.fork_is_safe asks.
_PIPELINE_RUN: Final = threading.Event()


def pipeline_run() -> bool:
    """Whether libvips has resampled anything in this process (see _PIPELINE_RUN)."""
    return _PIPELINE_RUN.is_set()


@functools.cache
def _say_missing(event: str, binding: ModuleType, what: str) -> None:
    """Once per process and library (``binding``'s): ``what`` goes the slow way, and how to
    mend it."""
    structlog.get_logger(__name__).warning(
        event,
        library=binding.LIBRARY,
        effect=f"{what} decoded whole by Pillow: slower, and more memory",
        fix=f"install Debian's {binding.PACKAGE}",
    )


class DecodeError(Exception):
    """libjpeg-turbo or libvips found the data damaged (libjpeg's warnings count)."""


# What to make of the decoded photo, given its size: the size to scale to, and the region
# of the photo to scale (None: all of it).  image._scaling, the same as for Pillow's resize.
Plan = Callable[[tuple[int, int]], tuple[tuple[int, int], tuple[float, float, float, float] | None]]


def scale_for(size: tuple[int, int], need: tuple[int, int]) -> int:
    """The smallest M (1-8) such that ``size`` decoded at M/8 still covers ``need``.

    libjpeg rounds a scaled side up: ceil(side * M / 8).
    """
    width, height = size
    for m in range(1, EIGHTHS):
        if math.ceil(width * m / EIGHTHS) >= need[0] and math.ceil(height * m / EIGHTHS) >= need[1]:
            return m
    return EIGHTHS


@dataclass(frozen=True)
class Scaled:
    """A photo decoded at M/8 and turned into the print's picture by a libvips pipeline that
    has not run yet: the pixels are computed when the print is encoded (``encode``) or
    handed to Pillow (``to_pillow``).  ``mode`` is Pillow's name for its bands: RGB or L."""

    image: pyvips.Image
    mode: str
    # The rows of the decoder's buffer the pipeline reads, while they may still be changed
    # in place (to_rgb converts their colours there); None once they may not.
    source: memoryview | None = None

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.image.width), int(self.image.height))

    def to_pillow(self) -> Image.Image:
        """The pixels as a Pillow image (the pipeline runs; the whole picture is held)."""
        try:
            pixels = self.image.write_to_memory()
        except pyvips.Error as e:
            raise DecodeError("libvips could not make the print") from e
        return Image.frombuffer(self.mode, self.size, pixels, "raw", self.mode, 0, 1)


def decode_scaled(
    src: Path, img: Image.Image, need: tuple[int, int], plan: Plan, orientation: int = 1
) -> Scaled | None:
    """Decode the JPEG ``src`` (opened by Pillow as ``img``) and scale it as ``plan`` says.

    Decoded now, at the smallest M/8 that keeps ``need`` (stored orientation); cropped,
    resampled and turned upright as EXIF ``orientation`` says (``plan`` speaks of the stored
    orientation) when the result is used.  Returns None when this path does not apply (not
    RGB or greyscale, or the print needs every pixel), so the caller decodes with Pillow.
    Raises DecodeError for damaged data: libjpeg's warnings (a truncated file, corrupt
    entropy data) are errors here.
    """
    space = _SPACES.get(img.mode)
    eighths = scale_for(img.size, need)
    if space is None or eighths == EIGHTHS:
        return None  # Pillow decodes a whole JPEG as fast
    if not turbojpeg.available():
        _say_missing("convert.libturbojpeg_missing", turbojpeg, "big JPEGs are")
        return None
    colourspace, bands = space
    try:
        # At the size Pillow read and labd checked against its pixel limit, or not at all.
        data = buffers.FILES.read(src)
        pixels, width, height = turbojpeg.decode(
            data, colourspace, eighths, size=img.size, into=buffers.PIXELS.take
        )
    except turbojpeg.TurboJPEGError as e:
        raise DecodeError(str(e)) from e
    return _scaled(pixels, (width, height), bands, img.mode, plan=plan, orientation=orientation)


def decode_webp(
    src: Path, img: Image.Image, need: tuple[int, int], plan: Plan, orientation: int = 1
) -> Scaled | None:
    """Decode the still WebP ``src`` (opened by Pillow as ``img``) scaled by libwebp to
    ``need`` (at most its own size), and scale it as ``plan`` says: as decode_scaled does
    for a JPEG.  A photo with transparency is put on white.  Returns None where libwebp is
    missing (the caller decodes with Pillow); raises DecodeError for what libwebp refuses,
    so that Pillow judges the file in the words the other formats use.
    """
    if not webp.available():
        _say_missing("convert.libwebp_missing", webp, "WebP photos are")
        return None
    size = img.size
    scaled = (min(need[0], size[0]), min(need[1], size[1]))
    try:
        pixels, bands = webp.decode(buffers.FILES.read(src), size, scaled, into=buffers.PIXELS.take)
    except webp.WebPError as e:
        raise DecodeError(str(e)) from e
    return _scaled(pixels, scaled, bands, "RGB", plan=plan, orientation=orientation)


def _scaled(
    pixels: clib.Writable,
    size: tuple[int, int],
    bands: int,
    mode: str,
    *,
    plan: Plan,
    orientation: int,
) -> Scaled:
    """The decoder's ``pixels`` (``size``, ``bands`` of 8 bits: grey, RGB, or RGBA with its
    colours premultiplied) as the print's picture: cropped and resampled as ``plan`` says,
    turned upright as EXIF ``orientation`` says, on white where transparent."""
    width, height = size
    _PIPELINE_RUN.set()
    try:
        # libvips keeps a reference to ``pixels`` for as long as the image lives.
        image = pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar")
        if bands == _PREMULTIPLIED:
            # On white: each colour plus what the alpha leaves of white.
            colours, alpha = image.extract_band(0, n=3), image.extract_band(3)
            image = (colours + (255 - alpha)).cast("uchar")
        out, box = plan((width, height))
        rows = (0, height)
        if box is not None:
            left, top = round(box[0]), round(box[1])
            right = min(width, round(box[2]))
            bottom = min(height, round(box[3]))
            image = image.crop(left, top, right - left, bottom - top)
            rows = (top, bottom)
        image = image.resize(out[0] / image.width, vscale=out[1] / image.height, kernel="lanczos3")
        if (image.width, image.height) != out:  # libvips rounds; never by more than a pixel
            image = image.gravity("centre", out[0], out[1], extend="copy")
        for step in _UPRIGHT.get(orientation, ()):
            if step == "flip":
                image = image.fliphor()
            elif step == "flop":
                image = image.flipver()
            else:
                image = image.rot(step)
    except pyvips.Error as e:
        raise DecodeError("libvips could not scale the photo") from e
    if bands == _PREMULTIPLIED:
        return Scaled(image, mode)  # its colours are not the print's: nothing to convert there
    row = width * bands
    return Scaled(image, mode, memoryview(pixels)[rows[0] * row : rows[1] * row])


# A decoder's RGBA, its colours premultiplied by the alpha.
_PREMULTIPLIED: Final = 4


def to_rgb(scaled: Scaled, icc: bytes | None, product: Product) -> Scaled:
    """``scaled`` in RGB in ``product``'s output colour space: converted from ``icc`` (the
    photo's profile; None: sRGB) with the product's rendering intent and black point
    compensation.  A grey photo is made RGB first.  ``scaled`` is given up: its pixels may
    be converted where they are.

    An RGB photo is converted by labd's colour tables (labd.convert.tables: curves and a
    matrix, or a 3D table): a small print with far fewer pixels than the decoded photo once
    made (_converted_print: a 10x15); otherwise in the decoder's buffer, before libvips
    resamples it (the rows the print uses, no copy, no memory more: a 13x18 decoded with
    barely more rows than it prints, a 20x30 whose worker's peak stays at 85 MiB).
    Otherwise (a grey photo, tables less faithful than littlecms, labd's C module not
    built) by littlecms in the pipeline, after the resampling.  The
    caller has built the same transform with Pillow once (labd.convert.colour), so the
    profiles are known to be usable, and calls this only when a conversion is due.
    """
    source = icc or colour.SRGB_ICC
    output = colour.output_icc(product)
    intent = product.rendering_intent.value
    if scaled.mode == "RGB" and scaled.source is not None and tables.available():
        converter = tables.for_profiles(
            source, output, intent, black_point_compensation=product.black_point_compensation
        )
        if converter is not None:
            size = 3 * scaled.size[0] * scaled.size[1]
            if size <= _CONVERTED_PRINT and 4 * size <= 3 * scaled.source.nbytes:
                return _converted_print(scaled, converter)
            tables.apply(converter, scaled.source)
            return Scaled(scaled.image, "RGB")
    # The photo's profile travels with its pixels, as libvips' loaders would attach it.
    image = grey_to_rgb(scaled).image.copy(interpretation="srgb")
    image.set_type(pyvips.GValue.blob_type, "icc-profile-data", source)
    image = image.icc_transform(
        _profile_file(output),
        embedded=True,
        intent=intent,
        black_point_compensation=product.black_point_compensation,
        depth=8,
    )
    return Scaled(image, "RGB")


# The largest print (RGB bytes) labd makes whole to convert its colours, when it has at most
# three quarters of the decoded pixels: a 10x15 (6.5 MB) is, a 20x30 (26 MB) is not.
_CONVERTED_PRINT: Final = 16 << 20
# Rows of the print libvips makes at a time there: libvips sets aside memory for each
# strip through the resampling (a 10x15's worker peaks at 63 MiB with 16 rows, 67 with
# 32, 81 with 128), and recomputes a few rows between strips (32 rows: 1 % more time).
_STRIP: Final = 32


def _converted_print(scaled: Scaled, converter: tables.Table | tables.Matrix) -> Scaled:
    """The print ``scaled`` makes, made now and converted by ``converter``, a strip at a time
    into one buffer (a print-sized buffer more: 6.5 MB for a 10x15).  For a print with
    far fewer pixels than the decoded photo (a 10x15 from a camera: 2.2 MP against 3.4):
    fewer to convert, and colours converted after the resampling, as littlecms did, nearer
    the exact reference (bench/quality.py: mean ΔE2000 0.159 for an Adobe RGB 10x15,
    0.185 converted before)."""
    width, height = scaled.size
    row = 3 * width
    pixels = bytearray(row * height)
    try:
        region = pyvips.Region.new(scaled.image)
        for top in range(0, height, _STRIP):
            rows = min(_STRIP, height - top)
            strip = memoryview(pixels)[top * row : (top + rows) * row]
            strip[:] = region.fetch(0, top, width, rows)
            tables.apply(converter, strip)
        image = pyvips.Image.new_from_memory(pixels, width, height, 3, "uchar")
    except pyvips.Error as e:
        raise DecodeError("libvips could not make the print") from e
    return Scaled(image, "RGB")


def grey_to_rgb(scaled: Scaled) -> Scaled:
    """A grey picture as RGB, each band the grey (as Pillow's convert("RGB"))."""
    if scaled.mode != "L":
        return scaled
    grey = scaled.image
    # Said to be sRGB, or libvips would think an sRGB profile does not fit the picture.
    return Scaled(grey.bandjoin([grey, grey]).copy(interpretation="srgb"), "RGB")


def on_canvas(
    scaled: Scaled, size: tuple[int, int], at: tuple[int, int], colour: tuple[int, int, int]
) -> Scaled:
    """``scaled`` (RGB) at ``at`` on a canvas of ``size`` in ``colour``."""
    image = scaled.image.embed(
        at[0], at[1], size[0], size[1], extend="background", background=list(colour)
    )
    return Scaled(image, scaled.mode)


# Chroma subsampling -> libvips' mode; 4:2:2 is not among them (Pillow encodes it).
SUBSAMPLE_MODES: Final = {"4:4:4": "off", "4:2:0": "on"}


def encode(
    scaled: Scaled, out: BinaryIO, *, quality: int, subsampling: str, dpi: int, icc: bytes
) -> None:
    """Write the print (RGB) to ``out`` as a JPEG: ``quality``, ``subsampling`` (a key of
    SUBSAMPLE_MODES), ``dpi`` in a JFIF header as Pillow writes it, the profile ``icc`` and
    nothing else (no EXIF, no comment: nothing of the customer's file).

    Runs the pipeline a strip at a time, and writes as it goes: neither the print's pixels
    nor the whole JPEG are ever held.  An OSError of ``out`` (a full disk) is raised as
    itself; DecodeError if libvips fails otherwise.
    """
    image = scaled.image.copy()
    image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    sink = _JpegSink(out, dpi)
    target = pyvips.TargetCustom()
    target.on_write(sink.write)
    try:
        image.jpegsave_target(
            target,
            Q=quality,
            subsample_mode=SUBSAMPLE_MODES[subsampling],
            optimize_coding=False,  # as image._write_jpeg says why
            keep=pyvips.enums.ForeignKeep.ICC,
        )
    except pyvips.Error as e:
        if sink.error is not None:
            raise sink.error from None
        raise DecodeError("libvips could not make the print") from e
    sink.close()


class _JpegSink:
    """Where libvips' JPEG goes: ``out``, with a JFIF header giving ``dpi`` put after the
    start of image (libvips puts the resolution in EXIF, and keeps no EXIF here)."""

    def __init__(self, out: BinaryIO, dpi: int) -> None:
        self._out = out
        density = dpi.to_bytes(2, "big")
        self._app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x01" + density + density + b"\x00\x00"
        self._head: bytes | None = b""  # the first bytes, until the marker after SOI is seen
        self.error: OSError | None = None

    def write(self, chunk: bytes) -> int:
        """libvips' write: the bytes taken, or -1 on an error (kept for encode to raise)."""
        try:
            if self._head is None:
                self._out.write(chunk)
            else:
                self._head += chunk
                if len(self._head) >= _HEAD:
                    self._flush_head()
        except OSError as e:
            self.error = e
            return -1
        return len(chunk)

    def close(self) -> None:
        if self._head is not None:
            self._flush_head()

    def _flush_head(self) -> None:
        head, self._head = self._head or b"", None
        if head[:2] == _SOI and head[2:4] != _APP0:
            head = head[:2] + self._app0 + head[2:]
        self._out.write(head)


_SOI: Final = b"\xff\xd8"
_APP0: Final = b"\xff\xe0"
_HEAD: Final = 4


@functools.cache
def _profile_file(icc: bytes) -> str:
    """A path littlecms can open for the profile ``icc`` (libvips takes output profiles by
    name only): a memory file of this process, gone when it ends; one per profile."""
    fd = os.memfd_create("labd-profile", os.MFD_CLOEXEC)
    view = memoryview(icc)
    while view:
        view = view[os.write(fd, view) :]
    return f"/proc/self/fd/{fd}"
