"""Colour management: embedded ICC profiles to the product's output profile (sRGB or the
printer's), with transforms built once per process.

What this module builds decides, for every photo, whether a conversion is due and whether
the profiles are usable; the conversion itself is done here for what Pillow finishes
(PNG, TIFF, WebP, HEIF, CMYK and small JPEGs), and for the big camera JPEGs libvips
finishes by labd's colour tables or littlecms inside libvips (labd.convert.jpegdecode.to_rgb,
the same profiles, rendering intent and black point compensation).

To sRGB, littlecms converts each image itself.  To a printer's profile (lookup tables, which
littlecms evaluates per pixel at about twice a matrix profile's cost), an RGB photo goes
through a 3D lookup table sampled once from the littlecms transform (at its first use) and
applied with Pillow's Color3DLUT filter: a fixed cost whatever the profiles, on average
ΔE 0.25 from littlecms' result, at most a code value or two.

A transform that cannot change a value is not applied at all: an sRGB photo for an sRGB
print is the common case, and littlecms would spend 30 ms on a 10x15 print to give back the
same pixels.  Whether a transform is such is tried once, when it is built, on a grid of
52 levels per channel: none may move by more than one code value (littlecms' own rounding
between two encodings of sRGB; bench/quality.py measures what that leaves).
"""

from __future__ import annotations

import array
import functools
import hashlib
import io
import struct
import threading
from collections import OrderedDict
from typing import Final, Protocol

from PIL import Image, ImageChops, ImageCms, ImageFilter

from labd.model import Product, RenderingIntent

# The header's creation date (ICC dateTimeNumber: year, month, day, hours, minutes,
# seconds) in the sRGB profile labd embeds.
_PROFILE_DATE: Final = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)


def _dated(icc: bytes) -> bytes:
    """``icc`` with the creation date _PROFILE_DATE.  littlecms stamps the moment it wrote
    the profile, so every process embedded an sRGB profile of its own and the same photo
    made different print files; with one date they are the same, byte for byte.  A
    profile with an ID (an MD5 over the header, date included) is left as it is."""
    if icc[84:100] != bytes(16):
        return icc
    return icc[:24] + _PROFILE_DATE + icc[36:]


# The default output profile; untagged input is taken as sRGB.
SRGB_ICC: Final[bytes] = _dated(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
_SRGB: Final = ImageCms.ImageCmsProfile(io.BytesIO(SRGB_ICC))

# ICC colour space signatures for the modes images reach this module in.
_COLOUR_SPACE: Final = {"RGB": "RGB ", "L": "GRAY", "CMYK": "CMYK"}

# Distinct profiles seen in practice are few (cameras, phones, editors); the bound only
# keeps a stream of odd ones from growing the cache for ever.
_CACHE_SIZE: Final = 32


# Points per axis of the 3D lookup tables (littlecms' own for RGB); sampling one takes about
# 0.1 s, once per process, profile pair and rendering.
LUT_POINTS: Final = 33


class UnusableProfile(ValueError):
    """An embedded ICC profile that is damaged or does not fit the image."""


class Transform(Protocol):
    """A colour transform to the output profile: littlecms', or a LutTransform."""

    @property
    def input_mode(self) -> str: ...

    def apply(self, im: Image.Image) -> Image.Image: ...


class LutTransform:
    """An RGB -> RGB transform as a 3D lookup table sampled from a littlecms transform."""

    def __init__(self, transform: ImageCms.ImageCmsTransform, points: int = LUT_POINTS) -> None:
        if (transform.input_mode, transform.output_mode) != ("RGB", "RGB"):
            raise ValueError("a 3D lookup table maps RGB to RGB")
        self._transform = transform
        self._points = points

    @property
    def input_mode(self) -> str:
        return "RGB"

    @functools.cached_property
    def _lut(self) -> ImageFilter.Color3DLUT:
        """Sampled at first use: a photo libvips finishes (labd.convert.jpegdecode) is
        converted by littlecms there, and a worker that never needs the table is 5 MB
        smaller at its peak without it."""
        points = self._points
        grid = _grid(bytes(round(n * 255 / (points - 1)) for n in range(points)))
        sampled = self._transform.apply(grid)
        # float32: 0.4 MB for 33 points, where a list of floats takes 3.5 MB.
        table = array.array("f", map((1 / 255).__mul__, sampled.tobytes()))
        return ImageFilter.Color3DLUT(points, table)

    def apply(self, im: Image.Image) -> Image.Image:
        return im.filter(self._lut)


def _grid(axis: bytes) -> Image.Image:
    """Every colour whose channels are all in ``axis``, in one row: red varies fastest, then
    green, then blue (Color3DLUT's order).  Built as three bands rather than pixel by pixel:
    1 ms instead of 25 ms."""
    n = len(axis)
    bands = (
        axis * n**2,
        bytes(v for v in axis for _ in range(n)) * n,
        bytes(v for v in axis for _ in range(n**2)),
    )
    return Image.merge("RGB", [Image.frombytes("L", (n**3, 1), b) for b in bands])


class _Unchanged:
    """The transform of colours to themselves: nothing to do (transform_for gives None)."""

    @property
    def input_mode(self) -> str:
        return "RGB"

    def apply(self, im: Image.Image) -> Image.Image:
        return im


_UNCHANGED: Final = _Unchanged()
# 0, 5, ... 255 on each channel: 140,608 colours, 3 ms through littlecms, once per profile.
_PROBE_AXIS: Final = bytes(range(0, 256, 5))
# The most a transform may move a probed value and still count as changing nothing.
_ROUNDING: Final = 1


def _changes_nothing(transform: ImageCms.ImageCmsTransform) -> bool:
    """Whether ``transform`` (RGB to RGB) gives back every probed colour, give or take
    littlecms' rounding."""
    probe = _grid(_PROBE_AXIS)
    moved = ImageChops.difference(transform.apply(probe), probe)
    return moved.point(lambda v: 255 if v > _ROUNDING else 0).getbbox() is None


_INTENTS: Final = {
    RenderingIntent.PERCEPTUAL: ImageCms.Intent.PERCEPTUAL,
    RenderingIntent.RELATIVE: ImageCms.Intent.RELATIVE_COLORIMETRIC,
}

# (input profile hash or b"" for untagged, image mode, output profile hash, intent, bpc)
_Key = tuple[bytes, str, bytes, RenderingIntent, bool]


class _TransformCache:
    """Built transforms keyed by profiles, mode and rendering, least recently used dropped first."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[_Key, Transform] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, icc: bytes | None, mode: str, product: Product) -> Transform:
        key = (
            _digest(icc),
            mode,
            _digest(product.output_icc),
            product.rendering_intent,
            product.black_point_compensation,
        )
        with self._lock:
            if (found := self._items.get(key)) is not None:
                self._items.move_to_end(key)
                return found
        # Built outside the lock: two threads may build the same transform once each, which
        # is harmless, and no thread waits on another's build.
        transform = _build(icc, mode, product)
        with self._lock:
            self._items[key] = transform
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
        return transform

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_transforms: Final = _TransformCache(_CACHE_SIZE)


def _digest(icc: bytes | None) -> bytes:
    return hashlib.sha256(icc).digest() if icc else b""


def _profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except OSError as e:  # littlecms could not parse the bytes
        raise UnusableProfile("damaged colour profile") from e


def _build(icc: bytes | None, mode: str, product: Product) -> Transform:
    transform = _build_lcms(icc, mode, product)
    if mode == "RGB" and _changes_nothing(transform):
        return _UNCHANGED
    if product.output_icc is not None and mode == "RGB":
        return LutTransform(transform)
    return transform


def _build_lcms(icc: bytes | None, mode: str, product: Product) -> ImageCms.ImageCmsTransform:
    source = _SRGB if icc is None else _profile(icc)
    if source.profile.xcolor_space != _COLOUR_SPACE[mode]:
        raise UnusableProfile("colour profile does not match the image")
    # The output profile was checked when the configuration was read; a failure here is
    # labd's (or the administrator's), not the customer's, so it is not an UnusableProfile.
    target = _SRGB if product.output_icc is None else output_profile(product.output_icc)
    flags = ImageCms.Flags.NOCACHE  # without the 1-pixel cache threads can share a transform
    if product.black_point_compensation:
        flags |= ImageCms.Flags.BLACKPOINTCOMPENSATION
    try:
        return ImageCms.buildTransform(
            source,
            target,
            mode,
            "RGB",
            renderingIntent=_INTENTS[product.rendering_intent],
            flags=flags,
        )
    except ImageCms.PyCMSError as e:
        if icc is None:
            raise
        raise UnusableProfile("damaged colour profile") from e


@functools.lru_cache(maxsize=8)
def output_profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    """The parsed output (printer) profile; raises UnusableProfile if littlecms cannot use it."""
    return _profile(icc)


def transform_for(icc: bytes | None, mode: str, product: Product) -> Transform | None:
    """Return the cached transform from ``icc`` to the product's output profile, or None.

    ``mode`` is "RGB", "L" or "CMYK".  None means no colour conversion is due: untagged
    input (taken as sRGB) for an sRGB product, or an RGB transform that changes no value
    (an sRGB photo for an sRGB print).  Untagged grey or CMYK for a printer profile gets a
    transform for RGB: to_output converts such images plainly to RGB first.
    Raises UnusableProfile.
    """
    if icc:
        found = _transforms.get(icc, mode, product)
    elif product.output_icc is None:
        return None
    else:
        found = _transforms.get(None, "RGB", product)
    return None if found is _UNCHANGED else found


def to_output(img: Image.Image, transform: Transform | None) -> Image.Image:
    """Return ``img`` (RGB, L or CMYK) as an RGB image in the output colour space.

    ``img`` is the caller's to give up: an RGB image may be converted in place (for a
    10x15 print that is 8.6 MB less at the worker's peak, which is this moment).
    """
    if transform is None:
        # Untagged, sRGB out: RGB is taken as sRGB; grey and CMYK get Pillow's conversion.
        return img if img.mode == "RGB" else img.convert("RGB")
    if img.mode != transform.input_mode:
        img = img.convert(transform.input_mode)
    if isinstance(transform, ImageCms.ImageCmsTransform) and transform.input_mode == "RGB":
        transform.apply_in_place(img)
        return img
    return transform.apply(img)


def output_icc(product: Product) -> bytes:
    """The profile a product's output carries."""
    return product.output_icc if product.output_icc is not None else SRGB_ICC


def clear_cache() -> None:
    """Forget built transforms (tests)."""
    _transforms.clear()


def cache_size() -> int:
    """Number of transforms held (tests)."""
    return len(_transforms)
