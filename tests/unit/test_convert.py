"""labd.convert on real images made here with Pillow: geometry, orientation, colour, rejects."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageOps

from labd.convert import (
    RULE_EMPTY,
    RULE_NOT_AN_IMAGE,
    RULE_TOO_MANY_PIXELS,
    RULE_TRUNCATED,
    RULE_UNSUPPORTED,
    ConvertedFile,
    colour,
    convert_image,
    convert_job,
    jpegdecode,
)
from labd.convert import image as convert_image_module
from labd.errors import InputRejected
from labd.model import Fit, OutputFormat, Product
from tests.imagegen import (
    Corner,
    adobe_rgb_like_profile,
    displayed_image,
    make_photo,
    make_png_header,
    make_truncated_jpeg,
    marker_corner,
    near,
    pixel,
    rgb_matrix_profile,
    snapshot,
    swapped_red_green_profile,
)

# 6x4 inches at 300 dpi.
PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)
FIT_6X4 = Product(
    name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300, fit=Fit.FIT
)


# --- size, resolution, orientation ----------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected", "ppi"),
    [
        pytest.param((3000, 2000), (1800, 1200), 500, id="landscape"),
        pytest.param((2000, 3000), (1200, 1800), 500, id="portrait"),
        # Filled: the centre 1000x667 of it covers the 6x4 in, 167 pixels an inch.
        pytest.param((1000, 1000), (1800, 1200), 167, id="square-as-landscape"),
        pytest.param((900, 600), (1800, 1200), 150, id="small-upscaled"),
    ],
)
def test_print_size_and_dpi(
    tmp_path: Path, out_dir: Path, size: tuple[int, int], expected: tuple[int, int], ppi: int
) -> None:
    src = make_photo(tmp_path / "in.jpg", size, noise=0)
    out = out_dir / "0001.jpg"
    result = convert_image(PRINT_6X4, src, out)
    assert result == ConvertedFile(output=out, width=expected[0], height=expected[1], ppi=(ppi,))
    with Image.open(out) as img:
        assert img.format == "JPEG"
        assert img.mode == "RGB"
        assert img.size == expected
        assert img.info["dpi"] == pytest.approx((300, 300))


@pytest.mark.parametrize(
    "orientation",
    [
        pytest.param(1, id="1-normal"),
        pytest.param(2, id="2-mirrored"),
        pytest.param(3, id="3-rotated-180"),
        pytest.param(4, id="4-flipped"),
        pytest.param(5, id="5-transposed"),
        pytest.param(6, id="6-rotated-90-cw"),
        pytest.param(7, id="7-transversed"),
        pytest.param(8, id="8-rotated-90-ccw"),
    ],
)
@pytest.mark.parametrize(
    ("shown", "expected_size"),
    [
        pytest.param((600, 400), (1800, 1200), id="landscape"),
        pytest.param((400, 600), (1200, 1800), id="portrait"),
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path,
    out_dir: Path,
    orientation: int,
    shown: tuple[int, int],
    expected_size: tuple[int, int],
) -> None:
    # The pixels are stored turned; only the EXIF tag says how to show them.
    stored = (shown[1], shown[0]) if orientation >= 5 else shown
    src = make_photo(tmp_path / "in.jpg", stored, orientation=orientation, marker="top-left")
    convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        assert img.size == expected_size
        assert marker_corner(img) == "top-left"
        assert marker_corner(img, "green") == "top-right"  # not mirrored
        assert img.getexif().get(0x0112) is None  # no orientation left to apply twice


@pytest.mark.parametrize("orientation", [pytest.param(o, id=str(o)) for o in range(1, 9)])
def test_make_photo_stores_pixels_turned(tmp_path: Path, orientation: int) -> None:
    # The test helper checked against Pillow's own reading of EXIF orientation.
    src = make_photo(tmp_path / "in.jpg", (600, 400), orientation=orientation)
    with Image.open(src) as stored:
        assert stored.size == (600, 400)
        shown = ImageOps.exif_transpose(stored)
    assert shown.size == ((400, 600) if orientation >= 5 else (600, 400))
    assert (marker_corner(shown), marker_corner(shown, "green")) == ("top-left", "top-right")


@pytest.mark.parametrize(
    "corner",
    [pytest.param(c, id=c) for c in ("top-left", "top-right", "bottom-right", "bottom-left")],
)
def test_marker_stays_in_its_corner(tmp_path: Path, out_dir: Path, corner: Corner) -> None:
    src = make_photo(tmp_path / "in.jpg", (900, 600), marker=corner)
    convert_image(FIT_6X4, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        assert marker_corner(img) == corner


@pytest.mark.parametrize("suffix", [pytest.param(s, id=s) for s in (".png", ".tif", ".webp")])
def test_other_allowed_formats_with_orientation(tmp_path: Path, out_dir: Path, suffix: str) -> None:
    src = make_photo(tmp_path / f"in{suffix}", (600, 400), orientation=6)  # shown portrait
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert (result.width, result.height) == (1200, 1800)
    with Image.open(result.output) as img:
        assert img.format == "JPEG"
        assert marker_corner(img) == "top-left"


def test_multi_picture_jpeg_prints_its_first_picture(tmp_path: Path, out_dir: Path) -> None:
    # MPO (cameras, phones): a JPEG with more pictures after it, previews or a second eye.
    # They are not pages, and the first picture's orientation applies.
    first = displayed_image((600, 400)).transpose(Image.Transpose.ROTATE_180)
    second = displayed_image((600, 400), "bottom-right")
    exif = Image.Exif()
    exif[0x0112] = 3
    first.save(
        tmp_path / "in.jpg",
        format="MPO",
        save_all=True,
        append_images=[second],
        exif=exif.tobytes(),
    )
    with Image.open(tmp_path / "in.jpg") as img:
        assert (img.format, getattr(img, "n_frames", 1)) == ("MPO", 2)
    convert_image(PRINT_6X4, tmp_path / "in.jpg", out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        assert marker_corner(img) == "top-left"
        assert marker_corner(img, "green") == "top-right"


@pytest.mark.parametrize(
    ("orientation", "product", "drafted"),
    [
        # Shown portrait 2400x3600 -> 1200x1800 print: 1/2 scale keeps 1800x1200 stored.
        pytest.param(8, PRINT_6X4, (1800, 1200), id="turned-fill"),
        # Shown landscape 3600x2400 -> 1800x1200 print: the same in the stored orientation.
        pytest.param(1, PRINT_6X4, (1800, 1200), id="upright-fill"),
        # Fit needs as much as fill when the aspect ratios agree.
        pytest.param(6, FIT_6X4, (1800, 1200), id="turned-fit"),
    ],
)
def test_large_jpeg_is_scaled_in_the_decoder(
    tmp_path: Path, out_dir: Path, orientation: int, product: Product, drafted: tuple[int, int]
) -> None:
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), orientation=orientation, noise=0)
    with Image.open(src) as img:
        assert img.size == (3600, 2400)  # stored
        need = convert_image_module._decode_size(img, product)  # the step under test
        assert need == drafted
        assert jpegdecode.scale_for(img.size, need) == 4
    result = convert_image(product, src, out_dir / "0001.jpg")
    with Image.open(result.output) as img:
        assert img.size == ((1200, 1800) if orientation >= 5 else (1800, 1200))
        assert marker_corner(img) == "top-left"


# --- fill and fit ---------------------------------------------------------------------


def two_to_one(path: Path) -> Path:
    """A 1200x600 photo: grey, with 100 px blue stripes at the left and right edges and a
    black 100x100 square in the centre."""
    img = Image.new("RGB", (1200, 600), (128, 128, 128))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 99, 599), fill=(0, 0, 255))
    draw.rectangle((1100, 0, 1199, 599), fill=(0, 0, 255))
    draw.rectangle((550, 250, 649, 349), fill=(0, 0, 0))
    img.save(path, quality=95)
    return path


def dark_box(img: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of the black square (HSV value: the brightest channel, so blue is not dark)."""
    value = img.convert("HSV").getchannel("V")
    return value.point(lambda v: 255 if v < 40 else 0).getbbox()


def test_fill_covers_the_print_and_crops_the_centre(tmp_path: Path, out_dir: Path) -> None:
    # Scaled x2 to 2400x1200 to cover 1800x1200: 300 px cut on each side, which takes
    # the 100 px (200 px scaled) edge stripes with it.
    result = convert_image(PRINT_6X4, two_to_one(tmp_path / "in.jpg"), out_dir / "0001.jpg")
    with Image.open(result.output) as img:
        assert img.size == (1800, 1200)
        for x in (0, 5, 1794, 1799):
            for y in (0, 600, 1199):
                assert near(pixel(img, (x, y)), (128, 128, 128)), (x, y)
        box = dark_box(img)
        assert box is not None
        assert box == pytest.approx((800, 500, 1000, 700), abs=3)  # 200x200, centred


def test_fit_pads_with_white(tmp_path: Path, out_dir: Path) -> None:
    # Scaled x1.5 to 1800x900: 150 px of white above and below, nothing cut.
    result = convert_image(FIT_6X4, two_to_one(tmp_path / "in.jpg"), out_dir / "0001.jpg")
    with Image.open(result.output) as img:
        assert img.size == (1800, 1200)
        for y in (0, 100, 147, 1052, 1100, 1199):
            assert near(pixel(img, (900, y)), (255, 255, 255), 3), y
        for y in (153, 400, 800, 1046):
            assert near(pixel(img, (900, y)), (128, 128, 128)), y
        assert near(pixel(img, (10, 600)), (0, 0, 255), 30)  # the edge stripes are kept
        assert near(pixel(img, (1789, 600)), (0, 0, 255), 30)
        box = dark_box(img)
        assert box is not None
        assert box == pytest.approx((825, 525, 975, 675), abs=3)


def test_fit_pads_with_the_border_colour(tmp_path: Path, out_dir: Path) -> None:
    product = Product(
        name="p",
        format=OutputFormat.JPEG,
        width_mm=152.4,
        height_mm=101.6,
        dpi=300,
        fit=Fit.FIT,
        border_colour=(0, 0, 0),
    )
    result = convert_image(product, two_to_one(tmp_path / "in.jpg"), out_dir / "0001.jpg")
    with Image.open(result.output) as img:
        assert near(pixel(img, (900, 50)), (0, 0, 0), 3)
        assert near(pixel(img, (900, 1150)), (0, 0, 0), 3)


# --- colour -----------------------------------------------------------------------------


def flat(path: Path, rgb: tuple[int, int, int], icc: bytes | None = None) -> Path:
    img = Image.new("RGB", (300, 200), rgb)
    if icc is None:
        img.save(path, quality=95)
    else:
        img.save(path, quality=95, icc_profile=icc)
    return path


def profile_description(img: Image.Image) -> str:
    icc = img.info.get("icc_profile")
    assert isinstance(icc, bytes)
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))


def test_embedded_profile_is_converted_to_srgb(tmp_path: Path, out_dir: Path) -> None:
    # A profile that swaps red and green: a red file tagged with it is a green picture.
    tagged = flat(tmp_path / "tagged.jpg", (200, 30, 30), swapped_red_green_profile())
    untagged = flat(tmp_path / "untagged.jpg", (200, 30, 30))
    convert_image(PRINT_6X4, tagged, out_dir / "0001.jpg")
    convert_image(PRINT_6X4, untagged, out_dir / "0002.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        r, g, _ = pixel(img, (900, 600))
        assert g > 150 > r
        assert "sRGB" in profile_description(img)
    with Image.open(out_dir / "0002.jpg") as img:
        assert near(pixel(img, (900, 600)), (200, 30, 30))  # untagged is taken as sRGB


def test_wide_gamut_profile_changes_colours(tmp_path: Path, out_dir: Path) -> None:
    adobe_like = rgb_matrix_profile(
        "Adobe RGB like",
        (0.6097, 0.3111, 0.0195),
        (0.2053, 0.6257, 0.0609),
        (0.1492, 0.0632, 0.7446),
        gamma=563 / 256,
    )
    src = flat(tmp_path / "in.jpg", (100, 150, 200), adobe_like)
    convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        # littlecms: Adobe RGB (100, 150, 200) is sRGB (66, 151, 203).
        assert near(pixel(img, (900, 600)), (66, 151, 203), 6)


def test_srgb_tagged_input_keeps_its_colours(tmp_path: Path, out_dir: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = flat(tmp_path / "in.jpg", (40, 160, 90), srgb)
    convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        assert near(pixel(img, (900, 600)), (40, 160, 90), 6)
        assert "sRGB" in profile_description(img)


def test_transforms_are_built_once_per_profile_and_mode(tmp_path: Path, out_dir: Path) -> None:
    colour.clear_cache()
    icc = swapped_red_green_profile()
    for n in range(1, 4):
        convert_image(
            PRINT_6X4, flat(tmp_path / f"{n}.jpg", (200, 30, 30), icc), out_dir / f"{n:04d}.jpg"
        )
    assert colour.cache_size() == 1


def test_threads_share_transforms(tmp_path: Path, out_dir: Path) -> None:
    # The daemon may convert on several threads; one cached transform serves them all.
    colour.clear_cache()
    icc = swapped_red_green_profile()
    inputs = [flat(tmp_path / f"{n}.jpg", (200, 30, 30), icc) for n in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda n: convert_image(PRINT_6X4, inputs[n], out_dir / f"{n:04d}.jpg"), range(8)
            )
        )
    assert colour.cache_size() == 1
    for result in results:
        with Image.open(result.output) as img:
            r, g, _ = pixel(img, (900, 600))
            assert g > 150 > r


@pytest.mark.parametrize(
    ("mode", "suffix"),
    [
        pytest.param("L", ".jpg", id="grey-jpeg"),
        pytest.param("CMYK", ".jpg", id="cmyk-jpeg"),
        pytest.param("1", ".png", id="bilevel-png"),
        pytest.param("P", ".png", id="palette-png"),
        pytest.param("I;16", ".png", id="grey-16-bit-png"),
        pytest.param("CMYK", ".tif", id="cmyk-tiff"),
    ],
)
def test_other_modes_come_out_rgb(tmp_path: Path, out_dir: Path, mode: str, suffix: str) -> None:
    src = make_photo(tmp_path / f"in{suffix}", (600, 400), mode=mode)
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as img:
        assert img.mode == "RGB"
        assert img.info.get("icc_profile")


def test_16_bit_grey_keeps_its_tones(tmp_path: Path, out_dir: Path) -> None:
    # Pillow's plain convert("L") would clip this mid grey to white.
    Image.new("I;16", (300, 200), 32768).save(tmp_path / "in.png")
    convert_image(PRINT_6X4, tmp_path / "in.png", out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        assert near(pixel(img, (900, 600)), (128, 128, 128), 3)


@pytest.mark.parametrize("mode", [pytest.param(m, id=m) for m in ("RGBA", "LA", "P")])
def test_transparency_is_flattened_onto_white(tmp_path: Path, out_dir: Path, mode: str) -> None:
    # Left half transparent, right half opaque dark.
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    img.paste((20, 20, 20, 255), (150, 0, 300, 200))
    if mode == "LA":
        img = img.convert("LA")
    if mode == "P":
        # Palette entry 0 is transparent (a tRNS chunk), entry 1 dark grey.
        img = Image.new("P", (300, 200), 0)
        img.putpalette([255, 0, 255, 20, 20, 20])
        img.paste(1, (150, 0, 300, 200))
        img.save(tmp_path / "in.png", transparency=0)
    else:
        img.save(tmp_path / "in.png")
    convert_image(PRINT_6X4, tmp_path / "in.png", out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as out:
        assert near(pixel(out, (300, 600)), (255, 255, 255), 3)
        assert near(pixel(out, (1500, 600)), (20, 20, 20), 6)


# --- nothing of the customer's metadata reaches the print -------------------------------


@pytest.mark.parametrize(
    ("size", "libvips"),
    [pytest.param((600, 400), False, id="pillow"), pytest.param((3600, 2400), True, id="libvips")],
)
def test_output_has_no_exif_gps_comment_or_xmp(
    tmp_path: Path, out_dir: Path, size: tuple[int, int], libvips: bool
) -> None:
    """Whichever library finishes the print: its own profile and resolution, nothing of
    the customer's file."""
    src = make_photo(
        tmp_path / "in.jpg",
        size,
        orientation=6,
        exif_gps=True,
        comment=b"Customer: Erika Mustermann",
        icc_profile=adobe_rgb_like_profile(),
    )
    with Image.open(src) as original:  # the input really carries them
        assert original.getexif().get_ifd(0x8825)
        assert original.info.get("comment")
        need = convert_image_module._decode_size(original, PRINT_6X4)
        # The route under test: libvips takes what libjpeg-turbo decodes scaled.
        assert (jpegdecode.scale_for(original.size, need) < jpegdecode.EIGHTHS) is libvips
    convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    data = (out_dir / "0001.jpg").read_bytes()
    with Image.open(out_dir / "0001.jpg") as img:
        assert not img.getexif()
        assert not {"exif", "xmp", "comment"} & set(img.info)
        assert img.info.get("icc_profile") == colour.SRGB_ICC
        assert img.info.get("jfif")
        assert img.info.get("dpi") == (300, 300)
    assert b"Exif" not in data
    assert b"Mustermann" not in data


def test_xmp_is_dropped(tmp_path: Path, out_dir: Path) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>Erika Mustermann</rdf:RDF></x:xmpmeta>'
    Image.new("RGB", (300, 200), (90, 90, 90)).save(tmp_path / "in.jpg", xmp=xmp)
    convert_image(PRINT_6X4, tmp_path / "in.jpg", out_dir / "0001.jpg")
    assert b"Mustermann" not in (out_dir / "0001.jpg").read_bytes()


# --- inputs that cannot be printed --------------------------------------------------------


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def gif(path: Path) -> Path:
    Image.new("RGB", (60, 40), (200, 0, 0)).save(path, format="GIF")
    return path


def animated_gif(path: Path) -> Path:
    frames = [Image.new("RGB", (60, 40), c) for c in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def real_eps(path: Path) -> Path:
    # DOS EPS binary header (what Photoshop and Illustrator write) before the PostScript.
    postscript = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 60 40\nshowpage\n"
    header = (
        b"\xc5\xd0\xd3\xc6" + (30).to_bytes(4, "little") + len(postscript).to_bytes(4, "little")
    )
    path.write_bytes(header + bytes(30 - len(header)) + postscript)
    return path


def bmp(path: Path) -> Path:
    Image.new("RGB", (60, 40), (200, 0, 0)).save(path, format="BMP")
    return path


def multipage_tiff(path: Path) -> Path:
    pages = [Image.new("RGB", (60, 40), c) for c in ((255, 0, 0), (0, 255, 0))]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def float_tiff(path: Path) -> Path:
    Image.new("F", (60, 40), 0.5).save(path)
    return path


def damaged_profile(path: Path) -> Path:
    icc = bytearray(swapped_red_green_profile())
    icc[128:] = bytes(len(icc) - 128)  # keep the header, zero the tag table
    return flat(path, (90, 90, 90), bytes(icc))


def grey_with_rgb_profile(path: Path) -> Path:
    Image.new("L", (60, 40), 90).save(path, icc_profile=swapped_red_green_profile())
    return path


@pytest.mark.parametrize(
    ("name", "make", "rule", "says"),
    [
        pytest.param("empty.jpg", lambda p: write(p, b""), RULE_EMPTY, "empty", id="empty"),
        pytest.param(
            "notes.jpg",
            lambda p: write(p, b"Please print 2 copies.\n"),
            RULE_NOT_AN_IMAGE,
            "not an image file",
            id="text-named-jpg",
        ),
        pytest.param(
            "img3.jpg", make_truncated_jpeg, RULE_TRUNCATED, "truncated", id="truncated-jpeg"
        ),
        pytest.param(
            "head.png",
            lambda p: write(p, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            RULE_TRUNCATED,
            "damaged",
            id="png-cut-in-header",
        ),
        pytest.param(
            "order.jpg",
            lambda p: write(p, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
            RULE_NOT_AN_IMAGE,
            "PDF document",
            id="pdf-named-jpg",
        ),
        pytest.param("still.gif", gif, RULE_NOT_AN_IMAGE, "GIF image", id="gif"),
        pytest.param("scan.bmp", bmp, RULE_NOT_AN_IMAGE, "BMP image", id="bmp"),
        pytest.param(
            "logo.eps",
            lambda p: write(p, b"%!PS-Adobe-3.0 EPSF-3.0\n"),
            RULE_NOT_AN_IMAGE,
            "EPS",
            id="eps",
        ),
        pytest.param(
            "IMG_0001.HEIC",
            lambda p: write(p, b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            RULE_TRUNCATED,
            "damaged",
            id="heic-cut-after-header",
        ),
        pytest.param(
            "IMG_0002.avif",
            lambda p: write(p, b"\0\0\0\x18ftypavif\0\0\0\0mif1avif"),
            RULE_NOT_AN_IMAGE,
            "AVIF",
            id="avif",
        ),
        pytest.param("anim.gif", animated_gif, RULE_NOT_AN_IMAGE, "GIF image", id="animated-gif"),
        pytest.param("logo.eps", real_eps, RULE_NOT_AN_IMAGE, "EPS", id="eps-with-binary-header"),
        pytest.param(
            "DSC_0001.NEF",
            lambda p: make_photo(p, image_format="TIFF"),
            RULE_NOT_AN_IMAGE,
            "camera raw",
            id="raw-that-is-a-tiff",
        ),
        pytest.param(
            "huge.png",
            lambda p: make_png_header(p, (30000, 20000)),
            RULE_TOO_MANY_PIXELS,
            "too large",
            id="decompression-bomb",
        ),
        pytest.param(
            "big.png",
            lambda p: make_png_header(p, (15000, 15000)),
            RULE_TOO_MANY_PIXELS,
            "15000 x 15000 pixels",
            id="over-limit",
        ),
        pytest.param(
            "pages.tif", multipage_tiff, RULE_UNSUPPORTED, "2 pages", id="multi-page-tiff"
        ),
        pytest.param("float.tif", float_tiff, RULE_UNSUPPORTED, "colour mode F", id="float-tiff"),
        pytest.param(
            "bad-icc.jpg", damaged_profile, RULE_UNSUPPORTED, "colour profile", id="damaged-profile"
        ),
        pytest.param(
            "grey.jpg",
            grey_with_rgb_profile,
            RULE_UNSUPPORTED,
            "profile does not match",
            id="profile-for-other-mode",
        ),
    ],
)
def test_bad_input_is_rejected_and_nothing_is_lost(
    tmp_path: Path, name: str, make: Callable[[Path], Path], rule: str, says: str
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    src = make(tmp_path / name)
    before = src.read_bytes()
    with warnings.catch_warnings():
        # Pillow warns about images over its limit before labd rejects them.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(InputRejected) as caught:
            convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert caught.value.rule == rule
    assert caught.value.reason.startswith(f"{name}: ")
    assert says in caught.value.reason
    assert src.read_bytes() == before
    assert snapshot(out_dir) == {}


def test_pixel_limit_is_labds_own(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convert_image_module, "MAX_PIXELS", 100_000)
    src = make_photo(tmp_path / "in.jpg", (400, 250))
    convert_image(PRINT_6X4, src, out_dir / "0001.jpg")  # 100 000 pixels: at the limit
    src = make_photo(tmp_path / "in.jpg", (400, 251))
    with pytest.raises(InputRejected) as caught:
        convert_image(PRINT_6X4, src, out_dir / "0002.jpg")
    assert caught.value.rule == RULE_TOO_MANY_PIXELS
    assert "the limit is 0.1 megapixels" in caught.value.reason


def test_pillow_bomb_warning_as_error_is_rejected_too(tmp_path: Path, out_dir: Path) -> None:
    # Where warnings are errors, Pillow raises its warning instead of returning the image.
    src = make_png_header(tmp_path / "big.png", (15000, 15000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(InputRejected) as caught:
            convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert caught.value.rule == RULE_TOO_MANY_PIXELS
    assert isinstance(caught.value.__cause__, Image.DecompressionBombWarning)


def test_io_errors_are_not_input_errors(tmp_path: Path, out_dir: Path) -> None:
    src = make_photo(tmp_path / "in.jpg")
    with pytest.raises(FileNotFoundError):
        convert_image(PRINT_6X4, tmp_path / "gone.jpg", out_dir / "0001.jpg")
    with pytest.raises(FileNotFoundError):
        convert_image(PRINT_6X4, src, tmp_path / "no-such-dir" / "0001.jpg")
    (out_dir / "0001.jpg").mkdir()  # the output cannot be put in place
    with pytest.raises(IsADirectoryError):
        convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert [p.name for p in out_dir.iterdir()] == ["0001.jpg"]  # no temporary file left


def test_damaged_exif_does_not_reject_a_good_photo(tmp_path: Path, out_dir: Path) -> None:
    Image.new("RGB", (300, 200), (90, 90, 90)).save(
        tmp_path / "in.jpg", exif=b"Exif\0\0MM\0*\0\0\0\x08\xff\xff"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow: "Corrupt EXIF data"
        result = convert_image(PRINT_6X4, tmp_path / "in.jpg", out_dir / "0001.jpg")
    assert (result.width, result.height) == (1800, 1200)


# --- whole jobs ---------------------------------------------------------------------------


def test_job_outputs_are_numbered_in_input_order(tmp_path: Path, out_dir: Path) -> None:
    inputs = [
        make_photo(tmp_path / "zeta.jpg", (600, 400), marker="top-right"),
        make_photo(tmp_path / "alpha.jpg", (400, 600), marker="bottom-left"),
        make_photo(tmp_path / "mid.png", (600, 400), marker="bottom-right"),
    ]
    converted = convert_job(PRINT_6X4, inputs, out_dir)
    assert [c.sources for c in converted] == [(0,), (1,), (2,)]
    assert [c.output for c in converted] == [out_dir / f"000{n}.jpg" for n in (1, 2, 3)]
    assert [(c.width, c.height) for c in converted] == [(1800, 1200), (1200, 1800), (1800, 1200)]
    assert sorted(snapshot(out_dir)) == ["0001.jpg", "0002.jpg", "0003.jpg"]
    for c, corner in zip(converted, ("top-right", "bottom-left", "bottom-right"), strict=True):
        with Image.open(c.output) as img:
            assert marker_corner(img) == corner


def test_job_with_a_bad_file_prints_nothing(tmp_path: Path, out_dir: Path) -> None:
    inputs = [
        make_photo(tmp_path / "a.jpg"),
        make_photo(tmp_path / "b.jpg"),
        write(tmp_path / "notes.txt", b"two copies please\n"),
        make_photo(tmp_path / "c.jpg"),
    ]
    before = {p: p.read_bytes() for p in inputs}
    (out_dir / "0004.jpg").write_bytes(b"left by an interrupted earlier try")
    with pytest.raises(InputRejected) as caught:
        convert_job(PRINT_6X4, inputs, out_dir)
    assert caught.value.rule == RULE_NOT_AN_IMAGE
    assert caught.value.reason == "1 of 4 files cannot be printed: notes.txt: not an image file"
    assert snapshot(out_dir) == {}
    assert {p: p.read_bytes() for p in inputs} == before


def test_job_rejection_names_every_bad_file(tmp_path: Path, out_dir: Path) -> None:
    inputs = [
        make_photo(tmp_path / "img1.jpg"),
        write(tmp_path / "notes.txt", b"two copies please\n"),
        make_photo(tmp_path / "img2.jpg"),
        make_truncated_jpeg(tmp_path / "img3.jpg"),
        write(tmp_path / "empty.jpg", b""),
    ]
    with pytest.raises(InputRejected) as caught:
        convert_job(PRINT_6X4, inputs, out_dir)
    assert caught.value.rule == RULE_NOT_AN_IMAGE  # the first bad file's
    reason = caught.value.reason
    assert reason.startswith("3 of 5 files cannot be printed: notes.txt: not an image file; ")
    assert "; img3.jpg: truncated or damaged image data" in reason
    assert "; empty.jpg: empty file" in reason
    assert "img1.jpg" not in reason
    assert "img2.jpg" not in reason
    assert snapshot(out_dir) == {}


def test_job_stopped_by_an_io_error_leaves_no_output(tmp_path: Path, out_dir: Path) -> None:
    inputs = [make_photo(tmp_path / "a.jpg"), make_photo(tmp_path / "b.jpg")]
    (out_dir / "0002.jpg").mkdir()  # the second output cannot be put in place
    with pytest.raises(IsADirectoryError):
        convert_job(PRINT_6X4, inputs, out_dir)
    assert [p.name for p in out_dir.iterdir()] == ["0002.jpg"]


def test_single_file_job_reason(tmp_path: Path, out_dir: Path) -> None:
    with pytest.raises(InputRejected) as caught:
        convert_job(PRINT_6X4, [write(tmp_path / "IMG_1.jpg", b"")], out_dir)
    assert caught.value.rule == RULE_EMPTY
    assert caught.value.reason == (
        "1 of 1 file cannot be printed: IMG_1.jpg: empty file (0 bytes), copy it again"
    )


def test_job_without_files_is_rejected(out_dir: Path) -> None:
    with pytest.raises(InputRejected) as caught:
        convert_job(PRINT_6X4, [], out_dir)
    assert caught.value.rule == RULE_EMPTY


@pytest.mark.parametrize(
    ("setting", "pillow_code"),
    [pytest.param("4:2:0", 2, id="420"), pytest.param("4:4:4", 0, id="444")],
)
def test_jpeg_chroma_subsampling_follows_the_product(
    tmp_path: Path, setting: str, pillow_code: int
) -> None:
    from dataclasses import replace  # noqa: PLC0415

    from PIL import JpegImagePlugin  # noqa: PLC0415

    src = make_photo(tmp_path / "in.jpg", size=(900, 600))
    product = replace(PRINT_6X4, jpeg_subsampling=setting)
    out = tmp_path / "out.jpg"
    convert_image(product, src, out)
    with Image.open(out) as img:
        assert JpegImagePlugin.get_sampling(img) == pillow_code


_CONVERT_ONE = """
import sys
from pathlib import Path
from labd.convert import convert_image
from labd.model import OutputFormat, Product
product = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)
convert_image(product, Path(sys.argv[1]), Path(sys.argv[2]))
"""


@pytest.mark.parametrize(
    "size", [pytest.param((600, 400), id="pillow"), pytest.param((3600, 2400), id="libvips")]
)
def test_the_same_photo_makes_the_same_print_file_in_every_process(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """A reprint, another worker, another day: the same bytes (the embedded sRGB profile
    once carried the moment each process made it)."""
    src = make_photo(tmp_path / "in.jpg", size, noise=6)
    prints = []
    for n in range(2):
        out = tmp_path / f"{n:04d}.jpg"
        subprocess.run(
            [sys.executable, "-c", _CONVERT_ONE, str(src), str(out)], check=True, timeout=60
        )
        prints.append(out.read_bytes())
    assert prints[0] == prints[1]
    with Image.open(tmp_path / "0000.jpg") as printed:
        assert printed.info["icc_profile"] == colour.SRGB_ICC
    # The profile embedded is the same whenever littlecms made it: a fresh one, stamped
    # with another moment (here, not by waiting for the clock), comes out as labd's.
    fresh = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    fresh[24:36] = struct.pack(">6H", 2031, 7, 9, 13, 45, 59)
    assert colour._dated(bytes(fresh)) == colour.SRGB_ICC
