"""Colour management: embedded ICC profiles to sRGB, with transforms built once per process."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from typing import Final

from PIL import Image, ImageCms

# The profile every output carries.  Prints are made for sRGB; untagged input is taken as sRGB.
_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
SRGB_ICC: Final[bytes] = _SRGB.tobytes()

# ICC colour space signatures for the modes images reach this module in.
_COLOUR_SPACE: Final = {"RGB": "RGB ", "L": "GRAY", "CMYK": "CMYK"}

# Distinct profiles seen in practice are few (cameras, phones, editors); the bound only
# keeps a stream of odd ones from growing the cache for ever.
_CACHE_SIZE: Final = 32


class UnusableProfile(ValueError):
    """An embedded ICC profile that is damaged or does not fit the image."""


class _TransformCache:
    """Built transforms keyed by (profile hash, mode), least recently used dropped first."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[tuple[bytes, str], ImageCms.ImageCmsTransform] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
        key = (hashlib.sha256(icc).digest(), mode)
        with self._lock:
            if (found := self._items.get(key)) is not None:
                self._items.move_to_end(key)
                return found
        # Built outside the lock: two threads may build the same transform once each, which
        # is harmless, and no thread waits on another's build.
        transform = _build(icc, mode)
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


def _build(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except OSError as e:  # littlecms could not parse the bytes
        raise UnusableProfile("damaged colour profile") from e
    if profile.profile.xcolor_space != _COLOUR_SPACE[mode]:
        raise UnusableProfile("colour profile does not match the image")
    try:
        return ImageCms.buildTransform(
            profile,
            _SRGB,
            mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            # Without the 1-pixel cache one transform can be shared by converter threads.
            flags=ImageCms.Flags.NOCACHE,
        )
    except ImageCms.PyCMSError as e:
        raise UnusableProfile("damaged colour profile") from e


def transform_for(icc: bytes | None, mode: str) -> ImageCms.ImageCmsTransform | None:
    """Return the cached transform from ``icc`` to sRGB for ``mode`` images; None if untagged.

    ``mode`` is "RGB", "L" or "CMYK".  Raises UnusableProfile.
    """
    if not icc:
        return None
    return _transforms.get(icc, mode)


def to_srgb(img: Image.Image, transform: ImageCms.ImageCmsTransform | None) -> Image.Image:
    """Return ``img`` (RGB, L or CMYK) as an sRGB RGB image."""
    if transform is not None:
        return transform.apply(img)
    # Untagged: RGB is already taken as sRGB; grey and CMYK get Pillow's plain conversion.
    return img if img.mode == "RGB" else img.convert("RGB")


def clear_cache() -> None:
    """Forget built transforms (tests)."""
    _transforms.clear()


def cache_size() -> int:
    """Number of transforms held (tests)."""
    return len(_transforms)
