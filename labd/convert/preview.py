"""A small JPEG of a print-ready output, for a person to see what is (or was) printed.

The console's job page shows one to the roles allowed (each look journaled there).  The
thumbnail is made in memory and handed over as bytes: a copy of a customer's picture on
disk would be one more file for retention and erasure to find.  The output is labd's own
print-ready JPEG, so the decoder's draft mode (libjpeg scaling by 1/2 to 1/8 while it
decodes) makes even a poster's thumbnail cheap.  A PDF (a photobook) has no preview:
rendering one would need a PDF rasteriser in the console for a picture of a cover.
"""

from __future__ import annotations

import enum
import io
from pathlib import Path
from typing import Final

from PIL import Image, UnidentifiedImageError

from labd.errors import LabdError

__all__ = ["PREVIEW_PIXELS", "NoPreview", "Unpreviewable", "thumbnail", "why_no_preview"]

PREVIEW_PIXELS: Final = 480  # the thumbnail's longer side
_QUALITY: Final = 80
_PDF_MAGIC: Final = b"%PDF-"


class Unpreviewable(enum.StrEnum):
    """Why an output has no preview."""

    GONE = "gone"  # its print file was deleted (retention, erasure) or never written
    PDF = "pdf"  # a PDF output (a photobook): no preview
    NOT_AN_IMAGE = "not_an_image"  # the file cannot be read as a picture


class NoPreview(LabdError):
    """No preview of {}: {}"""

    code = "convert.no_preview"

    def __init__(self, path: Path, why: Unpreviewable) -> None:
        super().__init__(path.name, why.value)
        self.why = why


def why_no_preview(path: Path) -> Unpreviewable | None:
    """Why ``path`` has no preview, without decoding it; None: it has one (most likely:
    :func:`thumbnail` still refuses a file that is not a picture)."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_PDF_MAGIC))
    except FileNotFoundError:
        return Unpreviewable.GONE
    except IsADirectoryError:
        return Unpreviewable.NOT_AN_IMAGE
    return Unpreviewable.PDF if head == _PDF_MAGIC else None


def thumbnail(path: Path, longest: int = PREVIEW_PIXELS) -> bytes:
    """A JPEG of ``path`` at most ``longest`` pixels on its longer side, in memory."""
    why = why_no_preview(path)
    if why is not None:
        raise NoPreview(path, why)
    try:
        with Image.open(path, formats=("JPEG", "PNG", "TIFF")) as img:
            img.draft("RGB", (longest, longest))  # a JPEG decodes at a fraction of its size
            small = img.convert("RGB")
            small.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    except FileNotFoundError as e:  # deleted between the look and the decoding
        raise NoPreview(path, Unpreviewable.GONE) from e
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise NoPreview(path, Unpreviewable.NOT_AN_IMAGE) from e
    out = io.BytesIO()
    small.save(out, "JPEG", quality=_QUALITY, optimize=True)
    return out.getvalue()
