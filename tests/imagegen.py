"""Test images with known content, for unit and end-to-end tests.

``make_photo`` writes a photo whose *displayed* image (after EXIF orientation) has a red
block in one corner and a green block in the next corner clockwise; ``marker_corner`` finds
them again in whatever a conversion or a printer produced.  Together the two blocks tell
all eight orientations apart, mirror images included.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any, Final, Literal

from PIL import ExifTags, Image, ImageChops, ImageDraw, ImageStat

# Corners by name, clockwise.  Plain strings, so tables of test cases need no casts.
Corner = str
MarkerColour = Literal["red", "green"]
RGB = tuple[int, int, int]

CORNERS: Final[tuple[Corner, ...]] = ("top-left", "top-right", "bottom-right", "bottom-left")
RED: Final[RGB] = (220, 30, 30)
GREEN: Final[RGB] = (30, 190, 40)
BACKGROUND: Final[RGB] = (70, 95, 150)
WHITE: Final[RGB] = (255, 255, 255)
_MARKERS: Final[dict[MarkerColour, RGB]] = {"red": RED, "green": GREEN}

# Displayed -> stored: the inverse of the transpose that shows each EXIF orientation upright.
_STORED: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

# sRGB primaries adapted to D50, as ICC matrix profiles state them.
SRGB_RED_XYZ: Final = (0.4361, 0.2225, 0.0139)
SRGB_GREEN_XYZ: Final = (0.3851, 0.7169, 0.0971)
SRGB_BLUE_XYZ: Final = (0.1431, 0.0606, 0.7141)
_D50: Final = (0.9642, 1.0, 0.8249)


def displayed_image(
    size: tuple[int, int], marker: Corner = "top-left", *, noise: int = 6
) -> Image.Image:
    """The picture as the customer sees it: red and green corner blocks on blue-grey.

    ``noise`` (standard deviation, 0 for none) makes the JPEG data look like a photo's:
    mostly scan data, slower to write.
    """
    if marker not in CORNERS:
        raise ValueError(f"marker must be one of {CORNERS}, not {marker!r}")
    img = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    block = max(2, min(size) // 4)
    green = CORNERS[(CORNERS.index(marker) + 1) % 4]
    for corner, colour in ((marker, RED), (green, GREEN)):
        draw.rectangle(_corner_box(size, corner, block), fill=colour)
    if not noise:
        return img
    grain = Image.effect_noise(size, noise).convert("L")  # zero mean around 128
    return ImageChops.add(img, Image.merge("RGB", (grain, grain, grain)), offset=-128)


def make_photo(
    path: Path,
    size: tuple[int, int] = (600, 400),
    *,
    orientation: int = 1,
    marker: Corner = "top-left",
    exif_gps: bool = False,
    mode: str = "RGB",
    icc_profile: bytes | None = None,
    comment: bytes | None = None,
    image_format: str | None = None,
    noise: int = 6,
) -> Path:
    """Write a photo whose displayed image has the red block at ``marker``.

    ``size`` is the stored pixel size, as a camera writes it; ``orientation`` (EXIF, 1-8)
    says how to show it, so for 5-8 the displayed picture is ``size`` turned (3000x2000 with
    orientation 6 is a 2000x3000 portrait).  ``exif_gps`` adds a GPS IFD; ``mode`` is "RGB",
    "L" or "CMYK" for JPEG (others for PNG and TIFF).  The format follows the suffix unless
    ``image_format`` is given; ``noise`` as for displayed_image.
    """
    shown = (size[1], size[0]) if orientation in (5, 6, 7, 8) else size
    stored = displayed_image(shown, marker, noise=noise)
    if orientation != 1:
        stored = stored.transpose(_STORED[orientation])
    if mode != "RGB":
        stored = stored.convert(mode)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    if exif_gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
        }
    params: dict[str, Any] = {"exif": exif.tobytes()}
    if icc_profile is not None:
        params["icc_profile"] = icc_profile
    fmt = image_format or Image.registered_extensions()[path.suffix.lower()]
    if fmt == "JPEG":
        params["quality"] = 95
        if comment is not None:
            params["comment"] = comment
    stored.save(path, format=fmt, **params)
    return path


def marker_corner(img: Image.Image, colour: MarkerColour = "red", *, border: RGB = WHITE) -> Corner:
    """Return the corner of the picture in ``img`` that holds the ``colour`` marker.

    The picture is what differs from ``border``, so padding (fit) and printer margins do
    not matter.  Raises ValueError unless exactly one corner matches.
    """
    rgb = img.convert("RGB")
    box = _content_box(rgb, border)
    means = {corner: _corner_mean(rgb, box, corner) for corner in CORNERS}
    wanted = _MARKERS[colour]
    found = [
        c
        for c, mean in means.items()
        if max(abs(m - w) for m, w in zip(mean, wanted, strict=True)) < 60
    ]
    if len(found) != 1:
        seen = ", ".join(f"{c}={tuple(round(v) for v in m)}" for c, m in means.items())
        raise ValueError(f"{colour} marker found in {found or 'no corner'}; corners: {seen}")
    return found[0]


def _corner_box(size: tuple[int, int], corner: Corner, block: int) -> tuple[int, int, int, int]:
    w, h = size
    left = 0 if corner in ("top-left", "bottom-left") else w - block
    top = 0 if corner in ("top-left", "top-right") else h - block
    return (left, top, left + block - 1, top + block - 1)


def _content_box(img: Image.Image, border: RGB) -> tuple[int, int, int, int]:
    diff = ImageChops.difference(img, Image.new("RGB", img.size, border)).convert("L")
    box = diff.point(lambda v: 255 if v > 40 else 0).getbbox()
    if box is None:
        raise ValueError("the image holds nothing but border")
    return box


def _corner_mean(
    img: Image.Image, box: tuple[int, int, int, int], corner: Corner
) -> tuple[float, ...]:
    """Mean colour of a patch 2-6 % in from ``corner`` of ``box``."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    x0, x1 = round(w * 0.02), max(round(w * 0.06), round(w * 0.02) + 1)
    y0, y1 = round(h * 0.02), max(round(h * 0.06), round(h * 0.02) + 1)
    xs = (
        (left + x0, left + x1)
        if corner in ("top-left", "bottom-left")
        else (right - x1, right - x0)
    )
    ys = (top + y0, top + y1) if corner in ("top-left", "top-right") else (bottom - y1, bottom - y0)
    patch = img.crop((xs[0], ys[0], xs[1], ys[1]))
    return tuple(ImageStat.Stat(patch).mean)


def make_truncated_jpeg(path: Path, size: tuple[int, int] = (600, 400)) -> Path:
    """Write the first half of a real JPEG photo: the header is fine, the data stops."""
    buf = io.BytesIO()
    displayed_image(size).save(buf, format="JPEG", quality=95)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_png_header(path: Path, size: tuple[int, int]) -> Path:
    """Write a PNG that claims ``size`` but holds almost no data: a decompression bomb's
    header, opened cheaply by Pillow, never decodable."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", size[0], size[1], 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )
    return path


def rgb_matrix_profile(
    description: str,
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float = 2.2,
) -> bytes:
    """Return an ICC v2 RGB matrix/TRC display profile with the given D50 primaries.

    Pillow can only create sRGB, LAB and XYZ profiles; this makes others (Adobe RGB-like,
    or deliberately wrong ones whose effect a test can see).
    """

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(v: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + s15(v[0]) + s15(v[1]) + s15(v[2])

    text = description.encode("ascii") + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
        (b"wtpt", xyz(_D50)),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        data += bytes(-(offset + len(data)) % 4)  # tag data starts on 4-byte boundaries
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    body = struct.pack(">I", len(tags)) + table + data
    header = (
        struct.pack(">I", 128 + len(body))
        + b"lcms"
        + struct.pack(">I", 0x02100000)  # version 2.1
        + b"mntrRGB XYZ "
        + bytes(12)  # date
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)  # platform, flags, maker, model, attributes, intent
        + s15(_D50[0])
        + s15(_D50[1])
        + s15(_D50[2])
        + bytes(4 + 16 + 28)  # creator, profile id, reserved
    )
    return header + body


def swapped_red_green_profile() -> bytes:
    """An RGB profile whose red is sRGB's green and vice versa: converting through it turns
    a red photo green, which a test can see at a glance."""
    return rgb_matrix_profile("Swapped red green", SRGB_GREEN_XYZ, SRGB_RED_XYZ, SRGB_BLUE_XYZ)
