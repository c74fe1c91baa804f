"""Camera JPEGs decoded at the smallest DCT scale the print allows, resampled with libvips.

Most of what a lab prints is camera and phone JPEGs far bigger than the print.  Decoding is
most of their cost, and libjpeg-turbo can scale down inside its inverse DCT by any M/8
(M = 1..8), not only by 1/2, 1/4 and 1/8 as libvips' and Pillow's JPEG loaders ask it to:
a 6000x4000 photo for a 10x15 print (1800x1200) decodes at 3/8 (2250x1500, 3.4 MP) instead
of 1/2 (3000x2000, 6 MP), for a 20x30 at 5/8 instead of whole.  simplejpeg (libjpeg-turbo
in a wheel) decodes at that scale into one buffer; libvips takes that buffer without a copy,
crops the centre for ``fill``, resamples it with a Lanczos-3 kernel (the filter of
Pillow's LANCZOS, in vector instructions) straight to the print size, and turns it upright
as it copies the result out (no second copy to turn it, 26 MB for a 20x30 print).  bench/convert.py
measures it against the limit route (the same decode, resize and encode, nothing else).

Everything else (colour, a border, encoding) stays with Pillow, and so does every other
input: CMYK JPEGs, JPEGs the print needs whole (M = 8), PNG, TIFF, WebP, HEIF.  The caller
has opened the file with Pillow first, so the format, size, EXIF and ICC profile have been
checked there.  libvips only ever works on pixels handed to it: every loader of its own is
blocked, its operation cache keeps nothing (no customer pixels outlive a conversion), and it
uses one thread (labd runs one conversion per core).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

# simplejpeg brings numpy, and numpy OpenBLAS, which starts a thread per core at import
# for matrix work labd never does.  One conversion runs per core already; and with no
# thread, `labd convert` can fork its workers warm (labd.convert.job.process_pool).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pyvips
import simplejpeg
from PIL import Image

# libvips' own messages would put details of customer files into labd's log; the caller
# reports what went wrong instead.
logging.getLogger("pyvips").setLevel(logging.CRITICAL)
pyvips.cache_set_max(0)
pyvips.cache_set_max_files(0)
pyvips.concurrency_set(1)
pyvips.block_untrusted_set(state=True)
pyvips.operation_block_set("VipsForeignLoad", state=True)  # no file is parsed by libvips

# Pillow's mode of the opened JPEG -> (simplejpeg's colour space, bands).  CMYK stays with
# Pillow, which knows Adobe's inverted CMYK.
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


def decode_scaled(
    src: Path, img: Image.Image, need: tuple[int, int], plan: Plan, orientation: int = 1
) -> Image.Image | None:
    """Decode the JPEG ``src`` (opened by Pillow as ``img``) and scale it as ``plan`` says.

    Decoded at the smallest M/8 that keeps ``need`` (stored orientation), then cropped and
    resampled by libvips from the decoder's buffer, and turned upright as EXIF
    ``orientation`` says (``plan`` speaks of the stored orientation).  Returns None when
    this path does not apply (not RGB or greyscale, or the print needs every pixel), so the
    caller decodes with Pillow.  Raises DecodeError for damaged data: libjpeg's warnings (a
    truncated file, corrupt entropy data) are errors here.
    """
    space = _SPACES.get(img.mode)
    if space is None or scale_for(img.size, need) == EIGHTHS:
        return None  # Pillow decodes a whole JPEG as fast
    colourspace, bands = space
    try:
        pixels = simplejpeg.decode_jpeg(
            src.read_bytes(), colourspace, min_width=need[0], min_height=need[1], strict=True
        )
    except ValueError as e:  # simplejpeg's word for libjpeg's errors and warnings
        raise DecodeError(str(e)) from e
    height, width = pixels.shape[:2]
    _PIPELINE_RUN.set()
    try:
        image = pyvips.Image.new_from_memory(pixels.data, width, height, bands, "uchar")
        size, box = plan((width, height))
        if box is not None:
            left, top = round(box[0]), round(box[1])
            right = min(width, round(box[2]))
            bottom = min(height, round(box[3]))
            image = image.crop(left, top, right - left, bottom - top)
        image = image.resize(
            size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3"
        )
        if (image.width, image.height) != size:  # libvips rounds; never by more than a pixel
            image = image.gravity("centre", size[0], size[1], extend="copy")
        for step in _UPRIGHT.get(orientation, ()):
            if step == "flip":
                image = image.fliphor()
            elif step == "flop":
                image = image.flipver()
            else:
                image = image.rot(step)
        scaled = image.write_to_memory()
        upright = (int(image.width), int(image.height))
    except pyvips.Error as e:
        raise DecodeError("libvips could not scale the photo") from e
    mode = img.mode
    return Image.frombuffer(mode, upright, scaled, "raw", mode, 0, 1)
