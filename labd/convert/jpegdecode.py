"""Camera JPEGs decoded and resampled with libvips: the same filter as Pillow's, in SIMD.

Most of what a lab prints is camera and phone JPEGs far bigger than the print.  For them
libvips (pyvips) does the two expensive steps in one streamed pass: it decodes the JPEG
scaled down in libjpeg's inverse DCT (1/2, 1/4 or 1/8, never below the print's size) strip
by strip, and resamples it with a Lanczos-3 kernel, the filter of Pillow's LANCZOS, in
vector instructions; the decoded photo is never whole in memory.  Measured on
this project's 2-core machine for a 24 MP photo and a 10x15 print (bench/convert.py):
decoding and resampling take 161-191 ms with libvips against 255-290 ms with Pillow, and
the result is the same (PSNR against a full-size Lanczos resample: 33.2 dB both).

Everything else (colour, rotation, encoding) stays with Pillow, and so does every other
input: CMYK JPEGs, JPEGs that need no scaling, PNG, TIFF, WebP, HEIF.  The caller has
opened the file with Pillow first, so the format, size, EXIF and ICC profile have been
checked there; libvips only ever runs its JPEG loader on customer files (every other
loader is blocked below), keeps nothing in its operation cache (no customer pixels or open
files outlive a conversion), and uses one thread (labd runs one conversion per core).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pyvips
from PIL import Image

# libvips' own messages ("error in tile ...", a loader's complaint naming the file) would
# put customer file names into labd's log; the caller reports what went wrong instead.
logging.getLogger("pyvips").setLevel(logging.CRITICAL)
pyvips.cache_set_max(0)
pyvips.cache_set_max_files(0)
pyvips.concurrency_set(1)
pyvips.block_untrusted_set(state=True)
pyvips.operation_block_set("VipsForeignLoad", state=True)
pyvips.operation_block_set("VipsForeignLoadJpeg", state=False)

# Pillow's mode of the opened JPEG -> libvips bands.  CMYK stays with Pillow, which knows
# Adobe's inverted CMYK.
_BANDS: Final = {"RGB": 3, "L": 1}
_SHRINKS: Final = (8, 4, 2)


# What to make of the decoded photo, given its size: the size to scale to, and the region
# of the photo to scale (None: all of it).  image._scaling, the same as for Pillow's resize.
Plan = Callable[[tuple[int, int]], tuple[tuple[int, int], tuple[float, float, float, float] | None]]


def shrink_for(size: tuple[int, int], need: tuple[int, int]) -> int:
    """The largest of 8, 4, 2 (else 1) that ``size`` can be shrunk by and still keep ``need``."""
    width, height = size
    return next((s for s in _SHRINKS if width >= s * need[0] and height >= s * need[1]), 1)


def decode_scaled(
    src: Path, img: Image.Image, need: tuple[int, int], plan: Plan
) -> Image.Image | None:
    """Decode the JPEG ``src`` (opened by Pillow as ``img``) and scale it as ``plan`` says.

    The decoder shrinks by the largest of 1/2, 1/4, 1/8 that keeps ``need`` (stored
    orientation), as Pillow's draft() would; decoding and resampling stream through
    libvips in strips, so the decoded photo is never whole in memory.  Returns None when
    this path does not apply (not RGB or greyscale, or no shrinking possible), so the
    caller decodes with Pillow.  Raises pyvips.Error for damaged data: libjpeg's warnings
    (a truncated file, corrupt entropy data) are errors here.
    """
    mode = img.mode
    if mode not in _BANDS:
        return None
    shrink = shrink_for(img.size, need)
    if shrink == 1:
        return None  # Pillow decodes full size as fast
    image = pyvips.Image.jpegload(str(src), shrink=shrink, fail_on="warning", access="sequential")
    if image.bands != _BANDS[mode] or image.format != "uchar":
        return None
    size, box = plan((int(image.width), int(image.height)))
    if box is not None:
        left, top = round(box[0]), round(box[1])
        right = min(image.width, round(box[2]))
        bottom = min(image.height, round(box[3]))
        image = image.crop(left, top, right - left, bottom - top)
    image = image.resize(size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3")
    if (image.width, image.height) != size:  # libvips rounds; never by more than a pixel
        image = image.gravity("centre", size[0], size[1], extend="copy")
    # Decoding happens here, strip by strip, into the print-sized result.
    return Image.frombuffer(mode, size, image.write_to_memory(), "raw", mode, 0, 1)
