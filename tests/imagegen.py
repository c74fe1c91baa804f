"""Test images with known content, for unit and end-to-end tests.

``make_photo`` writes a photo whose *displayed* image (after EXIF orientation) has a red
block in one corner and a green block in the next corner clockwise; ``marker_corner`` finds
them again in whatever a conversion or a printer produced.  Together the two blocks tell
all eight orientations apart, mirror images included.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any, Final, Literal

import pikepdf
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


def a4_pdf(path: Path, pages: int = 2, size_mm: tuple[float, float] = (210, 297)) -> Path:
    """Write a print-ready PDF of blank pages, A4 portrait unless ``size_mm`` says other."""
    points = 72 / 25.4  # per mm
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(size_mm[0] * points, size_mm[1] * points))
    pdf.save(path)
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
    *,
    curve_table: list[int] | None = None,
) -> bytes:
    """Return an ICC v2 RGB matrix/TRC display profile with the given D50 primaries.

    Pillow can only create sRGB, LAB and XYZ profiles; this makes others (Adobe RGB-like,
    or deliberately wrong ones whose effect a test can see).  ``curve_table`` (16-bit
    values) replaces the plain ``gamma`` curve, as sampled tone curves do in camera profiles.
    """

    def xyz(v: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + _s15(v[0]) + _s15(v[1]) + _s15(v[2])

    if curve_table is None:
        curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    else:
        count = len(curve_table)
        curve = b"curv\0\0\0\0" + struct.pack(f">I{count}H", count, *curve_table)
    tags = [
        (b"desc", _desc(description)),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
        (b"wtpt", xyz(_D50)),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    return _assemble(tags, b"mntr", b"RGB ", b"XYZ ")


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _desc(description: str) -> bytes:
    text = description.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)


def _assemble(
    tags: list[tuple[bytes, bytes]], device_class: bytes, space: bytes, pcs: bytes
) -> bytes:
    """An ICC v2 profile from its tags."""
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
        + device_class
        + space
        + pcs
        + bytes(12)  # date
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)  # platform, flags, maker, model, attributes, intent
        + _s15(_D50[0])
        + _s15(_D50[1])
        + _s15(_D50[2])
        + bytes(4 + 16 + 28)  # creator, profile id, reserved
    )
    return header + body


def _srgb_to_lab(rgb: tuple[float, ...]) -> tuple[float, float, float]:
    """sRGB (0-1) to CIE Lab (D50), through the D50-adapted sRGB primaries."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    cols = (SRGB_RED_XYZ, SRGB_GREEN_XYZ, SRGB_BLUE_XYZ)
    xyz = [sum(lin[j] * cols[j][i] for j in range(3)) for i in range(3)]
    f = [
        (v / w) ** (1 / 3) if v / w > 216 / 24389 else (24389 / 27 * v / w + 16) / 116
        for v, w in zip(xyz, _D50, strict=True)
    ]
    return (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))


def lab_to_srgb(lab: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIE Lab (D50) to sRGB (0-1, clipped), the inverse of the above."""
    fy = (lab[0] + 16) / 116
    f = (fy + lab[1] / 500, fy, fy - lab[2] / 200)
    xyz = [
        w * (v**3 if v**3 > 216 / 24389 else (116 * v - 16) / (24389 / 27))
        for v, w in zip(f, _D50, strict=True)
    ]
    # Inverse of the D50-adapted sRGB matrix.
    m = (SRGB_RED_XYZ, SRGB_GREEN_XYZ, SRGB_BLUE_XYZ)
    a = [[m[j][i] for j in range(3)] for i in range(3)]
    det = (
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
        - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
        + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    )
    inv = [
        [
            (
                a[(c + 1) % 3][(r + 1) % 3] * a[(c + 2) % 3][(r + 2) % 3]
                - a[(c + 1) % 3][(r + 2) % 3] * a[(c + 2) % 3][(r + 1) % 3]
            )
            / det
            for c in range(3)
        ]
        for r in range(3)
    ]
    lin = [min(1.0, max(0.0, sum(inv[i][j] * xyz[j] for j in range(3)))) for i in range(3)]
    r, g, b = (12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055 for c in lin)
    return (r, g, b)


def _lab16(lab: tuple[float, float, float]) -> list[int]:
    """Lab in the ICC v2 16-bit encoding of lut16Type."""
    return [
        min(0xFFFF, max(0, round(lab[0] * 0xFF00 / 100))),
        min(0xFFFF, max(0, round((lab[1] + 128) * 256))),
        min(0xFFFF, max(0, round((lab[2] + 128) * 256))),
    ]


def _mft2(inputs: int, outputs: int, grid: int, clut: Any) -> bytes:
    """A lut16Type tag: identity matrix and curves around a ``grid``-point CLUT.

    ``clut(point)`` gets the input (0-1 per channel) and returns ``outputs`` 16-bit values.
    """
    identity = b"".join(_s15(1.0 if i % 4 == 0 else 0.0) for i in range(9))
    ramp = struct.pack(">2H", 0, 0xFFFF)
    values: list[int] = []
    for n in range(grid**inputs):
        point = [(n // grid ** (inputs - 1 - k)) % grid / (grid - 1) for k in range(inputs)]
        values += clut(point)
    return (
        b"mft2\0\0\0\0"
        + struct.pack(">BBBB", inputs, outputs, grid, 0)
        + identity
        + struct.pack(">HH", 2, 2)
        + ramp * inputs
        + struct.pack(f">{len(values)}H", *values)
        + ramp * outputs
    )


def cmyk_lut_profile() -> bytes:
    """A CMYK printer profile (A2B0 only) modelling naive inks: r = (1-c)(1-k) and so on.

    Pillow cannot make CMYK profiles; this one is enough to take a tagged CMYK photo to RGB.
    """

    def clut(p: list[float]) -> list[int]:
        c, m, y, k = p
        return _lab16(_srgb_to_lab(((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))))

    tags = [
        (b"desc", _desc("Naive CMYK")),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
        (b"wtpt", b"XYZ \0\0\0\0" + _s15(_D50[0]) + _s15(_D50[1]) + _s15(_D50[2])),
        (b"A2B0", _mft2(4, 3, 5, clut)),
    ]
    return _assemble(tags, b"prtr", b"CMYK", b"Lab ")


def rgb_lut_profile(description: str = "Printer RGB", grid: int = 17) -> bytes:
    """An RGB printer profile built of lookup tables (as real printer profiles are) that
    models sRGB: converting to it should leave sRGB colours about where they were."""

    def a2b(p: list[float]) -> list[int]:
        return _lab16(_srgb_to_lab(tuple(p)))

    def b2a(p: list[float]) -> list[int]:
        lab = (p[0] * 100 * 0xFFFF / 0xFF00, p[1] * 0xFFFF / 256 - 128, p[2] * 0xFFFF / 256 - 128)
        return [round(v * 0xFFFF) for v in lab_to_srgb(lab)]

    tags = [
        (b"desc", _desc(description)),
        (b"cprt", b"text\0\0\0\0no copyright\0"),
        (b"wtpt", b"XYZ \0\0\0\0" + _s15(_D50[0]) + _s15(_D50[1]) + _s15(_D50[2])),
        (b"A2B0", _mft2(3, 3, grid, a2b)),
        (b"B2A0", _mft2(3, 3, grid, b2a)),
        (b"B2A1", _mft2(3, 3, grid, b2a)),
    ]
    return _assemble(tags, b"prtr", b"RGB ", b"Lab ")


def camera_srgb_profile() -> bytes:
    """sRGB as cameras embed it ("sRGB IEC61966-2.1"): the sRGB primaries and its tone curve
    sampled at 1024 points, not LittleCMS' own parametric sRGB.  LittleCMS' transform from
    it to its own sRGB changes no value (other sRGB profiles move a few by one)."""
    table = [
        round(65535 * (v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4))
        for v in (n / 1023 for n in range(1024))
    ]
    return rgb_matrix_profile(
        "sRGB IEC61966-2.1", SRGB_RED_XYZ, SRGB_GREEN_XYZ, SRGB_BLUE_XYZ, curve_table=table
    )


def adobe_rgb_like_profile() -> bytes:
    """Adobe RGB (1998) primaries (D50-adapted) and its 563/256 gamma, as a matrix profile."""
    return rgb_matrix_profile(
        "Adobe RGB like",
        (0.6097, 0.3111, 0.0195),
        (0.2053, 0.6257, 0.0609),
        (0.1492, 0.0632, 0.7446),
        gamma=563 / 256,
    )


def make_png16(path: Path, size: tuple[int, int], rgba: tuple[int, ...]) -> Path:
    """A 16-bit RGB (3 values) or RGBA (4 values) PNG of one colour; Pillow cannot write them."""
    kind = {3: 2, 4: 6}[len(rgba)]
    row = b"\0" + struct.pack(f">{len(rgba) * size[0]}H", *(rgba * size[0]))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", size[0], size[1], 16, kind, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(row * size[1]))
        + _chunk(b"IEND", b"")
    )
    return path


def make_tiff16(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> Path:
    """A 16-bit RGB TIFF (a scan) of one colour, uncompressed, little-endian."""
    w, h = size
    pixels = struct.pack(f"<{3 * w * h}H", *(rgb * (w * h)))
    entries = [  # tag, type (3 short, 4 long), count, value
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, 3, 0),  # bits per sample: offset patched below
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 2),  # RGB
        (273, 4, 1, 0),  # strip offset: patched below
        (277, 3, 1, 3),
        (278, 4, 1, h),
        (279, 4, 1, len(pixels)),
        (284, 3, 1, 1),  # chunky
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + ifd_size
    data_at = bits_at + 6
    ifd = struct.pack("<H", len(entries))
    patched = {258: bits_at, 273: data_at}
    for tag, kind, count, value in entries:
        v = patched.get(tag, value)
        packed = struct.pack("<HH", v, 0) if kind == 3 and count == 1 else struct.pack("<I", v)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    path.write_bytes(
        b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<3H", 16, 16, 16) + pixels
    )
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def swapped_red_green_profile() -> bytes:
    """An RGB profile whose red is sRGB's green and vice versa: converting through it turns
    a red photo green, which a test can see at a glance."""
    return rgb_matrix_profile("Swapped red green", SRGB_GREEN_XYZ, SRGB_RED_XYZ, SRGB_BLUE_XYZ)


def near(actual: tuple[float, ...], expected: tuple[int, ...], tolerance: float = 12) -> bool:
    """Each channel of ``actual`` within ``tolerance`` of ``expected`` (JPEG is lossy)."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def pixel(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The pixel at ``xy`` of a multi-band image, as a tuple."""
    value = img.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder``, hidden temporary files included, with its content."""
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# Camera JPEGs for the benchmarks (bench/convert.py, bench/media_import.py).
CAMERA_SIZE = (6000, 4000)  # 24 MP
CAMERA_DISTINCT = 4  # distinct photos; the rest are copies (the page cache holds them all anyway)
# Grain 4 makes 7.8 MB files: what 24 MP cameras write at their finest JPEG setting (about
# 7-12 MB), and the size at which reading the entropy-coded data alone takes the 75-80 ms
# the issue measured.  --grain 10 makes 11.8 MB files, the top of that range.
CAMERA_GRAIN = 4


def camera_jpegs(
    folder: Path,
    count: int,
    grain: int = CAMERA_GRAIN,
    *,
    profiles: tuple[bytes, ...] | None = None,
) -> list[Path]:
    """Camera-like JPEGs: grain (so the entropy data is photo-sized), ICC, EXIF rotation.

    Every other photo is EXIF-turned; ``profiles`` (default: the Adobe RGB-like one) take
    turns by pairs, so that each profile has a turned and an upright photo.
    """
    icc_of = profiles or (adobe_rgb_like_profile(),)
    originals = []
    for n in range(min(count, CAMERA_DISTINCT)):
        orientation = 6 if n % 2 else 1
        icc = icc_of[(n // 2) % len(icc_of)]
        img = displayed_image(CAMERA_SIZE, noise=grain)
        if orientation == 6:
            img = img.transpose(Image.Transpose.ROTATE_90)  # stored turned, shown upright
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = folder / f"IMG_{n:04d}.jpg"
        img.save(path, quality=95, icc_profile=icc, exif=exif.tobytes())
        originals.append(path)
    inputs = list(originals)
    for n in range(len(originals), count):
        path = folder / f"IMG_{n:04d}.jpg"
        shutil.copyfile(originals[n % len(originals)], path)
        inputs.append(path)
    return inputs
