"""One photo to one print-ready JPEG: decode, flatten, scale, colour-convert, orient, encode.

The order is for speed, and gives the same picture: the JPEG decoder scales down (by M/8),
the centre crop happens inside the resize, and the colour conversion and the EXIF rotation
work on the print-sized image, not on the decoded one.  Big RGB and grey JPEGs are decoded
by libjpeg-turbo at the smallest scale the print allows and resampled by libvips
(:mod:`labd.convert.jpegdecode`), the rest by Pillow; both aim at the same size and region
(_scaling).  A colour conversion that cannot change a value is not done (colour.py).

Pillow lives here (and in :mod:`labd.convert.colour`); its exceptions are translated to
InputRejected at this boundary when the input is at fault, and left alone when it is not.
What libjpeg-turbo refuses there, Pillow decodes again and judges.
"""

from __future__ import annotations

import functools
import math
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog
from PIL import Image, ImageFile, UnidentifiedImageError

from labd.convert import buffers, colour, jpegdecode
from labd.errors import InputRejected
from labd.fsutil import atomic_write
from labd.model import Fit, Layout, LowResolution, OutputFormat, Product

log = structlog.get_logger(__name__)


@functools.cache
def _register_heif() -> None:
    """Phone pictures: pillow-heif's opener, registered the first time a HEIF file comes.

    Not at import: only conversion decodes customer files, and a worker that converts
    camera JPEGs is 4.5 MB smaller without libheif.  pillow-heif applies the HEIF rotation
    itself and leaves EXIF orientation at 1.
    """
    import pillow_heif  # noqa: PLC0415  (see the docstring)

    pillow_heif.register_heif_opener()


# Only these decoders ever parse customer files: fewer parsers, fewer surprises.
ALLOWED_FORMATS: Final = ("JPEG", "PNG", "TIFF", "WEBP", "HEIF")

# The largest input accepted, in pixels.  Not Final: read at call time, so tests can lower it.
MAX_PIXELS: int = 200_000_000

# Pillow's own guard is process-wide: with this it warns above MAX_PIXELS and raises above
# twice that.  Both are turned into rejections below, and _decode rejects anything above
# MAX_PIXELS itself, so the warning is never all that happens.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

RULE_EMPTY: Final = "input.empty"
RULE_NOT_AN_IMAGE: Final = "input.not_an_image"
RULE_TRUNCATED: Final = "input.truncated"
RULE_TOO_MANY_PIXELS: Final = "input.too_many_pixels"
RULE_UNSUPPORTED: Final = "input.unsupported_mode"
RULE_LARGER_THAN_PRINT: Final = "input.larger_than_print"
RULE_LOW_RESOLUTION: Final = "input.low_resolution"

_ORIENTATION_TAG: Final = 0x0112
# EXIF orientation -> the transpose that shows the photo upright (as ImageOps.exif_transpose).
_UPRIGHT: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})

# Modes with alpha -> the mode composited onto white; modes Pillow converts plainly.
_WITH_ALPHA: Final = {"RGBA": "RGBA", "LA": "LA", "RGBa": "RGBA", "La": "LA", "PA": "RGBA"}
_PLAIN: Final = {"P": "RGB", "RGBX": "RGB", "YCbCr": "RGB", "1": "L"}

# What decoders raise on bad data.  Pillow's data errors are OSErrors without errno; an
# OSError with errno is the disk or the network failing, and is not the customer's fault.
_DATA_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error)
_BOMB_ERRORS: Final = (Image.DecompressionBombError, Image.DecompressionBombWarning)

# Above this ratio Pillow first shrinks by an integer factor, then resamples: much faster on
# big PNG and TIFF input and indistinguishable in print.  JPEG is shrunk in its decoder.
_REDUCING_GAP: Final = 3.0

# Camera raw files: several are TIFF inside and would "open" as their small preview.
_RAW_SUFFIXES: Final = frozenset(
    {
        ".arw",
        ".cr2",
        ".cr3",
        ".crw",
        ".dng",
        ".erf",
        ".kdc",
        ".mrw",
        ".nef",
        ".nrw",
        ".orf",
        ".pef",
        ".raf",
        ".raw",
        ".rw2",
        ".sr2",
        ".srf",
        ".srw",
        ".x3f",
    }
)
# Signatures of the allowed formats: such a file that Pillow cannot open is damaged.
_ALLOWED_SIGNATURES: Final = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*")
# Files technicians drop by mistake, named so the reason says what to do.
_OTHER_KINDS: Final = (
    (b"%PDF-", "PDF document"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"BM", "BMP image"),
    (b"%!PS", "PostScript or EPS file"),
    (b"\xc5\xd0\xd3\xc6", "EPS file"),
    (b"8BPS", "Photoshop document"),
    (b"PK\x03\x04", "ZIP archive or Office document"),
)
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})


@dataclass(frozen=True)
class ConvertedFile:
    """One print-ready file and the inputs it was made from (0-based indices, page order)."""

    output: Path
    width: int  # pixels; for a PDF, its (first) page's size in pixels at the product's dpi
    height: int
    sources: tuple[int, ...] = (0,)
    pages: int = 1
    # The effective resolution of each source (see effective_ppi), in the order of
    # ``sources``; empty for a PDF printed as it is.
    ppi: tuple[int, ...] = ()

    def resolutions(self) -> list[tuple[int, int]]:
        """(source index, effective ppi) of each photo; none for a PDF printed as it is."""
        return list(zip(self.sources, self.ppi, strict=True)) if self.ppi else []


@dataclass(frozen=True)
class _Decoded:
    """A loaded photo as stored (not yet turned), in RGB, L or CMYK, with what is needed
    to finish it."""

    # Decoded by Pillow; or a big JPEG decoded at M/8, to be scaled, turned and finished by
    # libvips (see _scaling and labd.convert.jpegdecode).
    image: Image.Image | jpegdecode.Scaled
    icc: bytes | None  # the embedded profile; None: untagged
    transform: colour.Transform | None  # embedded profile -> output profile; None: none due
    target: tuple[int, int]  # the print's picture area in pixels, turned like the photo
    orientation: int  # EXIF orientation (1-8) still to apply after scaling (1: none)
    ppi: int  # the effective resolution on the print (see effective_ppi)


def convert_image(product: Product, src: Path, out: Path) -> ConvertedFile:
    """Write ``src`` as a print-ready JPEG for ``product`` to ``out`` (atomically).

    Raises InputRejected, its reason starting with the file's base name, if the file cannot
    be printed.  I/O failures (a read error, a full disk) propagate as OSError.
    """
    if product.format is not OutputFormat.JPEG and product.layout is not Layout.PHOTOBOOK:
        raise ValueError(f"product {product.name!r}: makes no images")
    started = time.perf_counter()
    with _opened(src) as img:
        photo = _decode(product, src, img)
        printable = _render(product, photo, src)
        if isinstance(printable, jpegdecode.Scaled):
            try:
                _save_scaled(printable, product, out)
            except jpegdecode.DecodeError:
                printable = _by_pillow(product, src, img)
        if isinstance(printable, Image.Image):
            _write_jpeg(printable, product, out)
    width, height = printable.size
    log.debug(
        "convert.file_converted",
        width=width,
        height=height,
        ppi=photo.ppi,
        seconds=round(time.perf_counter() - started, 3),
    )
    return ConvertedFile(output=out, width=width, height=height, ppi=(photo.ppi,))


def render_image(product: Product, src: Path) -> tuple[Image.Image, int]:
    """The print of ``src`` for ``product`` as it is saved (RGB, the output colour space), and
    its effective ppi.  Raises InputRejected as convert_image does (bench/quality.py
    compares this picture with a full-size reference)."""
    with _opened(src) as img:
        photo = _decode(product, src, img)
        printable = _render(product, photo, src)
        if isinstance(printable, jpegdecode.Scaled):
            try:
                printable = printable.to_pillow()
            except jpegdecode.DecodeError:
                printable = _by_pillow(product, src, img)
        return printable, photo.ppi


def _by_pillow(product: Product, src: Path, img: ImageFile.ImageFile) -> Image.Image:
    """The print made by Pillow alone, when libvips failed to finish it (not expected: the
    photo was decoded already)."""
    log.warning("convert.libvips_failed")
    printable = _render(product, _decode(product, src, img, fast=False), src)
    assert isinstance(printable, Image.Image)  # noqa: S101  (fast=False: Pillow renders it)
    return printable


def effective_ppi(product: Product, shown: tuple[int, int]) -> int:
    """The photo's pixels that reach the print per inch of it, for a photo of ``shown`` size.

    ``fill`` counts the pixels left after the centre crop, ``fit`` the whole photo across
    the side it fills, ``none`` prints pixel for pixel at the product's dpi.  Below the
    product's dpi the photo is scaled up (upscaled); below its min_ppi it looks soft.
    Rounded to a whole number, as it is shown and judged.
    """
    if product.fit is Fit.NONE:
        return product.dpi
    (w, h), (tw, th) = shown, _target(product, shown)
    ratio = min(w / tw, h / th) if product.fit is Fit.FILL else max(w / tw, h / th)
    return round(product.dpi * ratio)


def is_low_resolution(product: Product, ppi: int) -> bool:
    """Whether ``ppi`` is below what ``product`` asks for (never, with min_ppi 0)."""
    return ppi < product.required_ppi


def low_resolution_note(product: Product, name: str, ppi: int) -> str:
    """What a technician reads about a photo below the product's minimum resolution."""
    return (
        f"{name}: {ppi} ppi on the print, below the {product.required_ppi} ppi product "
        f"{product.name} asks for (a larger original, or a smaller print)"
    )


def check_image(product: Product, src: Path) -> None:
    """Decode ``src`` as convert_image would, but write nothing; raise InputRejected if bad.

    Cheaper than a conversion: no scaling, colour conversion or encoding.
    """
    with _opened(src) as img:
        _decode(product, src, img)


@contextmanager
def _opened(src: Path) -> Iterator[ImageFile.ImageFile]:
    """Open ``src`` with the allowed decoders only; the file is closed when the block ends,
    and what the conversion used of the buffers kept for the next one is zeroed
    (labd.convert.buffers): no pixel decoded by the fast routes is read after the block."""
    if src.stat().st_size == 0:
        raise InputRejected(f"{src.name}: empty file (0 bytes), copy it again", rule=RULE_EMPTY)
    if src.suffix.lower() in _RAW_SUFFIXES:
        raise _other_format(src, "camera raw file")
    head = _head(src)
    formats: tuple[str, ...] = ALLOWED_FORMATS
    if head[4:8] == b"ftyp":  # ISO media (HEIF, AVIF, MP4): pillow-heif decides
        _register_heif()
    else:
        formats = tuple(f for f in ALLOWED_FORMATS if f != "HEIF")
    try:
        img = Image.open(src, formats=formats)
    except UnidentifiedImageError as e:
        raise _unidentified(src, head) from e
    except _BOMB_ERRORS as e:
        raise _too_many_pixels(src, None) from e
    except _DATA_ERRORS as e:
        if not _is_bad_data(e):
            raise
        raise _damaged(src) from e
    with img:
        try:
            yield img
        finally:
            buffers.wipe()


def _decode(
    product: Product, src: Path, img: ImageFile.ImageFile, *, fast: bool = True
) -> _Decoded:
    """Check limits, load the pixels (scaled down in the JPEG decoder where possible; with
    ``fast``, a big JPEG is left to libvips to finish)."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(src, img.size)
    try:
        # JPEG, and MPO (its multi-picture form): extra frames are previews, not pages.
        frames = 1 if img.format in ("JPEG", "MPO") else int(getattr(img, "n_frames", 1))
        if frames > 1:
            raise InputRejected(
                f"{src.name}: has {frames} pages or frames, save each as its own file",
                rule=RULE_UNSUPPORTED,
            )
        # The picture area, from the photo's own size as shown: a decoder that scales
        # rounds up, and a nearly square photo could come out the other way round.
        shown = _shown(img)
        target = _target(product, shown)
        ppi = effective_ppi(product, shown)
        if product.low_resolution is LowResolution.QUARANTINE and is_low_resolution(product, ppi):
            # Before the pixels are decoded: the job is refused whatever else they hold.
            raise InputRejected(
                low_resolution_note(product, src.name, ppi), rule=RULE_LOW_RESOLUTION
            )
        need = _decode_size(img, product)
        fits = fast and img.format in _SCALED_DECODERS
        scaled = _decode_scaled(product, src, img, need, target) if fits else None
        if scaled is None:
            # Pillow holds the whole photo: not beside the buffers kept for the fast routes.
            buffers.release()
            # JPEG: Pillow's decoder scales by 1/2, 1/4 or 1/8; HEIF: pillow-heif takes an
            # embedded thumbnail that is a scaled copy at least this big, if there is one.
            img.draft("RGB", need)
            img.load()
    except _BOMB_ERRORS as e:
        raise _too_many_pixels(src, img.size) from e
    except _DATA_ERRORS as e:
        if not _is_bad_data(e):
            raise
        raise _damaged(src) from e
    found = img.info.get("icc_profile")
    icc = found if isinstance(found, bytes) and found else None
    orientation = _orientation(img) if scaled is None else 1  # libvips turns it
    flat = scaled if scaled is not None else _flatten_mode(img, src)
    try:
        transform = colour.transform_for(icc, flat.mode, product)
    except colour.UnusableProfile as e:
        raise InputRejected(
            f"{src.name}: {e}, re-export it with an sRGB profile", rule=RULE_UNSUPPORTED
        ) from e
    return _Decoded(
        image=flat, icc=icc, transform=transform, target=target, orientation=orientation, ppi=ppi
    )


def _decode_scaled(
    product: Product,
    src: Path,
    img: ImageFile.ImageFile,
    need: tuple[int, int],
    target: tuple[int, int],
) -> jpegdecode.Scaled | None:
    """A big RGB or grey JPEG decoded at the smallest DCT scale, or a WebP decoded at the
    size ``need``, to be resampled for the print and turned upright (see
    labd.convert.jpegdecode); None: decode it with Pillow.

    On damaged data the decoder's error is not passed on: Pillow decodes the file again
    and says what is wrong in the words the other formats use, and tells a damaged file
    from a failing disk.  Fit "none" prints the photo's own pixels: Pillow decodes it.
    """
    if product.fit is Fit.NONE:
        return None
    orientation = _orientation(img)
    stored = _turned(target, orientation)
    decoder = _SCALED_DECODERS[img.format or ""]
    try:
        return decoder(src, img, need, lambda size: _scaling(product, size, stored), orientation)
    except jpegdecode.DecodeError:
        # Not the error's text: it may describe the customer's file.
        log.debug("convert.scaled_decode_fallback", format=img.format)
        return None


# Formats whose decoder scales the photo down to what the print needs as it decodes.
_SCALED_DECODERS: Final = {"JPEG": jpegdecode.decode_scaled, "WEBP": jpegdecode.decode_webp}


def _decode_size(img: ImageFile.ImageFile, product: Product) -> tuple[int, int]:
    """The smallest decoded size, in the stored orientation, that still covers the print.

    The JPEG decoder (libjpeg-turbo's by M/8, or Pillow's draft() by 1/2, 1/4 or 1/8) never
    scales below it.
    """
    orientation = _orientation(img)
    shown = _shown(img)
    need = _cover_or_fit_size(shown, _target(product, shown), product.fit, at_least=True)
    return _turned(need, orientation)


def _shown(img: Image.Image) -> tuple[int, int]:
    """The size of ``img`` as the photo is shown (turned as its EXIF orientation says)."""
    return _turned(img.size, _orientation(img))


def _turned(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` with its axes swapped if ``orientation`` turns the photo by 90 degrees."""
    return (size[1], size[0]) if orientation in _SWAPS_AXES else size


def _target(product: Product, shown: tuple[int, int]) -> tuple[int, int]:
    """The picture area in pixels: the print less its border on every side, turned like
    the photo (except a book's fixed pages).  The decoder's scaling and the resize aim at it."""
    if product.layout is Layout.PHOTOBOOK:
        width, height = product.page_pixels
    else:
        width, height = product.pixel_size(landscape=shown[0] >= shown[1])
    border = 2 * product.border_pixels
    return (width - border, height - border)


def _orientation(img: Image.Image) -> int:
    """Return the EXIF orientation still to apply to the pixels Pillow gives for ``img``.

    1 (as stored) when absent, unknown or unreadable, and for TIFF: Pillow's TIFF plugin
    turns the pixels itself when it loads them, and reports the turned size even before.
    """
    if img.format == "TIFF":
        return 1
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except _DATA_ERRORS as e:
        if not _is_bad_data(e):
            raise
        # Damaged EXIF is common (phone apps, editors) and the pixels may be fine.
        log.debug("convert.exif_unreadable", error=str(e))
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _flatten_mode(img: Image.Image, src: Path) -> Image.Image:
    """Return ``img`` in RGB, L or CMYK, transparency flattened onto white."""
    mode = img.mode
    if "transparency" in img.info and mode in ("RGB", "L", "P"):
        return _onto_white(img.convert("LA" if mode == "L" else "RGBA"))
    if mode in ("RGB", "L", "CMYK"):
        return img
    if (with_alpha := _WITH_ALPHA.get(mode)) is not None:
        return _onto_white(img if mode == with_alpha else img.convert(with_alpha))
    if (plain := _PLAIN.get(mode)) is not None:
        return img.convert(plain)
    if mode == "I" or mode.startswith("I;16"):
        # 16-bit grey (scans): Pillow's convert("L") would clip everything above 255 to white.
        return img.point(lambda v: v / 256, "L")
    raise InputRejected(
        f"{src.name}: colour mode {mode} is not supported, save it as 8-bit RGB",
        rule=RULE_UNSUPPORTED,
    )


def _onto_white(img: Image.Image) -> Image.Image:
    """Composite an RGBA or LA image onto white; return RGB or L."""
    base = Image.new(img.mode[:-1], img.size, "white")
    base.paste(img, mask=img.getchannel("A"))
    return base


def _render(product: Product, photo: _Decoded, src: Path) -> Image.Image | jpegdecode.Scaled:
    """Put the photo into the print's picture area (fill: cover and centre crop; fit:
    inside; none: its own pixels, unscaled), sRGB, on the print in the border colour.

    Scaled in the stored orientation, then turned: the centre crop and the fit are the same
    either way, and turning 1800x1200 pixels is cheaper than turning the decoded photo.
    A photo libvips scales is finished there too (a pipeline that has not run yet), but for
    what only Pillow does (see _libvips_finishes).
    Raises InputRejected for a photo larger than the picture area of a fit "none" product.
    """
    img, area, orientation = photo.image, photo.target, photo.orientation
    if isinstance(img, jpegdecode.Scaled):
        if _libvips_finishes(product, photo, img):
            return _render_scaled(product, photo, img)
        img = img.to_pillow()  # print-sized and upright already: Pillow does the rest
    stored = _turned(area, orientation)
    if product.fit is Fit.NONE:
        if img.size[0] > stored[0] or img.size[1] > stored[1]:
            raise _larger_than_print(product, src, img.size, stored, orientation)
        picture = _upright(colour.to_output(img, photo.transform), orientation)
    else:
        size, box = _scaling(product, img.size, stored)
        if img.size != size:  # else libvips scaled it already, as _scaling says
            img = img.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=_REDUCING_GAP)
        picture = _upright(colour.to_output(img, photo.transform), orientation)
        if product.fit is Fit.FILL and not product.border_pixels:
            return picture  # the whole print: no canvas to copy it onto
    return _on_canvas(product, picture, area)


def _libvips_finishes(product: Product, photo: _Decoded, scaled: jpegdecode.Scaled) -> bool:
    """Whether libvips can finish ``scaled`` as Pillow would: not a 4:2:2 product (libvips
    encodes 4:4:4 and 4:2:0), nor a grey photo with a (grey) profile of its own."""
    if product.jpeg_subsampling not in jpegdecode.SUBSAMPLE_MODES:
        return False
    return not (scaled.mode == "L" and photo.icc is not None and photo.transform is not None)


def _render_scaled(
    product: Product, photo: _Decoded, scaled: jpegdecode.Scaled
) -> jpegdecode.Scaled:
    """_render for a photo libvips scales: colour, then the canvas, in its pipeline."""
    if photo.transform is None:
        picture = jpegdecode.grey_to_rgb(scaled)
    else:
        picture = jpegdecode.to_rgb(scaled, photo.icc, product)
    if product.fit is Fit.FILL and not product.border_pixels:
        return picture
    canvas, at = _placement(product, picture.size, photo.target)
    return jpegdecode.on_canvas(picture, canvas, at, product.border_colour)


def _scaling(
    product: Product, size: tuple[int, int], stored: tuple[int, int]
) -> tuple[tuple[int, int], tuple[float, float, float, float] | None]:
    """What decoded pixels of ``size`` are scaled to, and from which region of them, for the
    picture area ``stored`` (in the stored orientation): fill covers the area and crops the centre,
    fit fits inside.  Not for fit "none", which does not scale.
    """
    if product.fit is Fit.FILL:
        return stored, _centre_crop_box(size, stored)
    return _cover_or_fit_size(size, stored, Fit.FIT, at_least=False), None


def _on_canvas(product: Product, picture: Image.Image, area: tuple[int, int]) -> Image.Image:
    """``picture`` centred in the picture ``area`` of a print-sized canvas of border colour.

    Used after the colour conversion: the border colour is in the output colour space.
    """
    size, at = _placement(product, picture.size, area)
    canvas = Image.new("RGB", size, product.border_colour)
    canvas.paste(picture, at)
    return canvas


def _placement(
    product: Product, picture: tuple[int, int], area: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The print's size, and where a ``picture`` of that size goes on it: centred in the
    picture ``area`` inside the border."""
    border = product.border_pixels
    left = border + (area[0] - picture[0]) // 2
    top = border + (area[1] - picture[1]) // 2
    return (area[0] + 2 * border, area[1] + 2 * border), (left, top)


def _larger_than_print(
    product: Product,
    src: Path,
    stored: tuple[int, int],
    area: tuple[int, int],
    orientation: int,
) -> InputRejected:
    """The refusal of a photo (``stored`` size) that does not fit the unscaled ``area``."""
    turned = orientation in _SWAPS_AXES
    (w, h), (aw, ah) = (stored[::-1], area[::-1]) if turned else (stored, area)
    bordered = product.border_pixels > 0
    where = "the print's picture area" if bordered else "the print"
    inside = f", inside a {product.border_mm:g} mm border" if bordered else ""
    return InputRejected(
        f"{src.name}: {w} x {h} pixels, larger than {where} ({aw} x {ah} pixels at "
        f"{product.dpi} dpi{inside}); resize it, or use a fill or fit product",
        rule=RULE_LARGER_THAN_PRINT,
    )


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    """Turn (and mirror) ``img`` as EXIF ``orientation`` says to show it."""
    return img.transpose(_UPRIGHT[orientation]) if orientation != 1 else img


def _cover_or_fit_size(
    size: tuple[int, int], target: tuple[int, int], fit: Fit, *, at_least: bool
) -> tuple[int, int]:
    """Size of ``size`` scaled to cover (FILL) or fit inside (FIT) ``target``; NONE: ``size``.

    ``at_least`` rounds up, for draft(); otherwise rounds to nearest, never beyond target.
    NONE keeps every pixel, so draft() is asked for the whole photo and does not scale.
    """
    if fit is Fit.NONE:
        return size
    (w, h), (tw, th) = size, target
    scale = max(tw / w, th / h) if fit is Fit.FILL else min(tw / w, th / h)
    if at_least:
        # The epsilon keeps an exact 2x, 4x, 8x photo from losing a DCT scaling step.
        return (max(1, math.ceil(w * scale - 1e-9)), max(1, math.ceil(h * scale - 1e-9)))
    return (min(tw, max(1, round(w * scale))), min(th, max(1, round(h * scale))))


def _centre_crop_box(
    size: tuple[int, int], target: tuple[int, int]
) -> tuple[float, float, float, float]:
    """The centred region of ``size`` with the aspect ratio of ``target``."""
    (w, h), (tw, th) = size, target
    scale = max(tw / w, th / h)
    crop_w, crop_h = tw / scale, th / scale
    left, top = (w - crop_w) / 2, (h - crop_h) / 2
    return (left, top, left + crop_w, top + crop_h)


# Pillow's names for the chroma subsampling a product asks for.
_SUBSAMPLING: Final = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def _save_scaled(picture: jpegdecode.Scaled, product: Product, out: Path) -> None:
    """Write the print libvips finished to ``out`` (atomically), encoded as _write_jpeg
    encodes Pillow's."""
    with atomic_write(out) as f:
        jpegdecode.encode(
            picture,
            f,
            quality=product.jpeg_quality,
            subsampling=product.jpeg_subsampling,
            dpi=product.dpi,
            icc=colour.output_icc(product),
        )


def _write_jpeg(img: Image.Image, product: Product, out: Path) -> None:
    # Nothing of the customer's file may reach the print file: Pillow's JPEG writer would
    # copy a COM comment from ``info``.  EXIF (GPS, orientation) is not passed, so none.
    img.info = {}
    with atomic_write(out) as f:
        img.save(
            f,
            format="JPEG",
            quality=product.jpeg_quality,
            subsampling=_SUBSAMPLING[product.jpeg_subsampling],
            dpi=(product.dpi, product.dpi),
            icc_profile=colour.output_icc(product),
            # Optimized Huffman tables save bytes (12 % on the bench's grainy photos) for a
            # second pass over the data (12 ms more per 10x15 print, +120 % of the encoding):
            # the files only go to a printer on the local network.
            optimize=False,
        )


def _is_bad_data(e: BaseException) -> bool:
    return not (isinstance(e, OSError) and e.errno is not None)


def _head(src: Path) -> bytes:
    with src.open("rb") as f:
        return f.read(32)


def _unidentified(src: Path, head: bytes) -> InputRejected:
    """Say what a file Pillow could not identify is (from its first bytes, ``head``), as far
    as that helps the technician."""
    if head.startswith(_ALLOWED_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return _damaged(src)
    if _is_heif(head):
        return _damaged(src)
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return _other_format(src, "AVIF photo")
    for signature, kind in _OTHER_KINDS:
        if head.startswith(signature):
            return _other_format(src, kind)
    return InputRejected(f"{src.name}: not an image file", rule=RULE_NOT_AN_IMAGE)


def _is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _other_format(src: Path, kind: str) -> InputRejected:
    return InputRejected(
        f"{src.name}: {kind}, not a photo format labd prints (save it as JPEG)",
        rule=RULE_NOT_AN_IMAGE,
    )


def _damaged(src: Path) -> InputRejected:
    return InputRejected(
        f"{src.name}: truncated or damaged image data, copy the file again",
        rule=RULE_TRUNCATED,
    )


def _too_many_pixels(src: Path, size: tuple[int, int] | None) -> InputRejected:
    limit = f"the limit is {MAX_PIXELS / 1_000_000:g} megapixels"
    found = f"{size[0]} x {size[1]} pixels, " if size else ""
    return InputRejected(
        f"{src.name}: too large to print ({found}{limit}), make it smaller",
        rule=RULE_TOO_MANY_PIXELS,
    )
