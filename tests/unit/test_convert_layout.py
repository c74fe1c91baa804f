"""Placing the photo on the print: a border in mm, and fit "none" (the photo's own pixels).

Real images made with tests.imagegen, converted by labd, read back with Pillow.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageChops, ImageStat

from labd.convert import (
    BOOK_NAME,
    RULE_LARGER_THAN_PRINT,
    ConvertedFile,
    convert_image,
    convert_job,
    jpegdecode,
)
from labd.convert import image as convert_image_module
from labd.errors import InputRejected
from labd.model import Fit, OutputFormat, Product
from tests.factories import BOOK
from tests.imagegen import (
    BACKGROUND,
    RED,
    WHITE,
    make_photo,
    marker_corner,
    near,
    pixel,
    snapshot,
)

RGB = tuple[int, int, int]
YELLOW: RGB = (250, 210, 0)

# 6x4 inches at 300 dpi: 1800x1200 pixels.  A 5 mm border is 59 px (59.06) on every side,
# which leaves a picture area of 1682x1082 px.
PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)
BORDER = 59
FILL_BORDER = replace(PRINT_6X4, border_mm=5.0, border_colour=YELLOW)
FIT_BORDER = replace(PRINT_6X4, fit=Fit.FIT, border_mm=5.0)
NONE_6X4 = replace(PRINT_6X4, fit=Fit.NONE)
NONE_BORDER = replace(NONE_6X4, border_mm=5.0)
# A photobook of 150x100 mm pages at 150 dpi (886x591 px) with a 5 mm (30 px) border.
BOOK_BORDER = replace(BOOK, border_mm=5.0)


def picture_box(img: Image.Image, border: RGB) -> tuple[int, int, int, int]:
    """The bounding box of everything that is not the border colour."""
    diff = ImageChops.difference(img.convert("RGB"), Image.new("RGB", img.size, border))
    box = diff.convert("L").point(lambda v: 255 if v > 40 else 0).getbbox()
    assert box is not None, "nothing but border"
    return box


def strip_colour(img: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """The mean colour of a strip, and check it is flat (no picture in it)."""
    stat = ImageStat.Stat(img.crop(box))
    assert max(hi - lo for lo, hi in stat.extrema) <= 16, (box, stat.extrema)
    return tuple(stat.mean)


def check_border(
    img: Image.Image, picture: tuple[int, int, int, int], border: RGB, inset: int = 4
) -> None:
    """The border around ``picture`` (left, top, right, bottom: exclusive) is ``border``
    everywhere, and the picture starts right after it.

    JPEG rings for a few pixels at the edge, so the border strips stop ``inset`` pixels
    short of the picture, and the picture is sampled ``inset`` pixels in from its edge,
    halfway along each side (the photos' marker blocks sit in the corners).
    """
    left, top, right, bottom = picture
    width, height = img.size
    strips = {
        "left": (0, 0, left - inset, height),
        "right": (right + inset, 0, width, height),
        "top": (0, 0, width, top - inset),
        "bottom": (0, bottom + inset, width, height),
    }
    for side, strip in strips.items():
        assert near(strip_colour(img, strip), border, 6), side
    mid_x, mid_y = (left + right) // 2, (top + bottom) // 2
    inside = {
        "left": (left + inset, mid_y),
        "right": (right - 1 - inset, mid_y),
        "top": (mid_x, top + inset),
        "bottom": (mid_x, bottom - 1 - inset),
    }
    for side, xy in inside.items():
        assert near(pixel(img, xy), BACKGROUND), side
    assert picture_box(img, border) == pytest.approx(picture, abs=1)


# --- a border in mm ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "size", "orientation", "print_size", "picture", "ppi"),
    [
        # Fill covers the 1682x1082 picture area and crops its centre: 59 px on every side.
        # 1200 pixels across 1682 at 300 dpi: 214 an inch of the picture.
        pytest.param(
            FILL_BORDER, (1200, 800), 1, (1800, 1200), (59, 59, 1741, 1141), 214, id="fill"
        ),
        # Turned upright first: a portrait print, its picture area 1082x1682.
        pytest.param(
            FILL_BORDER, (1200, 800), 6, (1200, 1800), (59, 59, 1141, 1741), 214, id="fill-turned"
        ),
        # A photo of the picture area's shape fits it exactly: 59 px on every side.
        pytest.param(FIT_BORDER, (841, 541), 1, (1800, 1200), (59, 59, 1741, 1141), 150, id="fit"),
        # 2:1 fitted into 1682x1082 is 1682x841: 120 px more of the border above and below.
        pytest.param(
            FIT_BORDER, (1200, 600), 1, (1800, 1200), (59, 179, 1741, 1020), 214, id="fit-wide"
        ),
        pytest.param(
            FIT_BORDER, (1200, 600), 8, (1200, 1800), (179, 59, 1020, 1741), 214, id="fit-turned"
        ),
    ],
)
def test_border_in_mm_surrounds_the_picture(
    tmp_path: Path,
    out_dir: Path,
    *,
    product: Product,
    size: tuple[int, int],
    orientation: int,
    print_size: tuple[int, int],
    picture: tuple[int, int, int, int],
    ppi: int,
) -> None:
    assert product.border_pixels == BORDER
    src = make_photo(tmp_path / "in.jpg", size, orientation=orientation, noise=0)
    result = convert_image(product, src, out_dir / "0001.jpg")
    assert result == ConvertedFile(
        output=out_dir / "0001.jpg", width=print_size[0], height=print_size[1], ppi=(ppi,)
    )
    with Image.open(result.output) as img:
        assert img.size == print_size
        assert img.info["dpi"] == pytest.approx((300, 300))
        check_border(img, picture, product.border_colour)
        assert marker_corner(img, border=product.border_colour) == "top-left"
        assert marker_corner(img, "green", border=product.border_colour) == "top-right"


def test_fill_with_a_border_crops_only_what_the_picture_area_needs(
    tmp_path: Path, out_dir: Path
) -> None:
    # 2:1 covering 1682x1082 is scaled x1.8033 to 2164x1082: 241 px cut at each side, not
    # the 300 px a borderless 1800x1200 print cuts (x2).  So 29 px of the 150 px red block
    # (270 px scaled) remain, at the left of the picture area.
    src = make_photo(tmp_path / "in.jpg", (1200, 600), noise=0)
    convert_image(FILL_BORDER, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        red = ImageChops.difference(img, Image.new("RGB", img.size, RED)).convert("L")
        box = red.point(lambda v: 255 if v < 40 else 0).getbbox()
    assert box == pytest.approx((59, 59, 59 + 270 - 241, 59 + 270), abs=2)


def test_decoding_aims_at_the_picture_area(tmp_path: Path) -> None:
    # The JPEG decoder may scale down to what the picture area needs, and no further:
    # 3364x2164 is twice the 1682x1082 inside a 5 mm border, so half size will do.  Without
    # the border the 1800x1200 print needs more than half.
    assert convert_image_module._target(FILL_BORDER, (3364, 2164)) == (1682, 1082)
    assert convert_image_module._target(FILL_BORDER, (2164, 3364)) == (1082, 1682)
    for product in (FILL_BORDER, FIT_BORDER):
        need = convert_image_module._cover_or_fit_size(
            (3364, 2164), (1682, 1082), product.fit, at_least=True
        )
        assert need == (1682, 1082)
    src = make_photo(tmp_path / "in.jpg", (3364, 2164), noise=0)
    with Image.open(src) as img:
        plain = convert_image_module._decode_size(img, PRINT_6X4)
        assert plain == (1866, 1200)
        assert jpegdecode.scale_for(img.size, plain) == 5  # 2103x1353
        assert convert_image_module._decode(PRINT_6X4, src, img).image.size == (1800, 1200)
    for product in (FILL_BORDER, FIT_BORDER):
        with Image.open(src) as img:
            need = convert_image_module._decode_size(img, product)
            assert jpegdecode.scale_for(img.size, need) == 4, product  # 1682x1082: half
            bordered = convert_image_module._decode(product, src, img).image.size
        assert bordered[0] == 1682 or bordered[1] == 1082, product
        assert bordered[0] <= 1682, product
        assert bordered[1] <= 1082, product


def test_photobook_pages_get_the_border(tmp_path: Path, out_dir: Path) -> None:
    # 886x591 px pages, 30 px border: a 413x266 photo (half the 826x531 picture area,
    # rounded) is filled into it.
    assert BOOK_BORDER.border_pixels == 30
    inputs = [
        make_photo(tmp_path / "1.jpg", (413, 266), noise=0),
        make_photo(tmp_path / "2.jpg", (266, 413), noise=0, marker="bottom-right"),
    ]
    (book,) = convert_job(BOOK_BORDER, inputs, out_dir)
    assert (book.output, book.width, book.height, book.pages) == (out_dir / BOOK_NAME, 886, 591, 2)
    assert [p.name for p in out_dir.iterdir()] == [BOOK_NAME]
    with pikepdf.open(book.output) as pdf:
        pages = []
        for page in pdf.pages:
            (image,) = page.Resources.XObject.values()
            pages.append(image.read_raw_bytes())
    for data in pages:
        with Image.open(io.BytesIO(data)) as img:
            assert img.size == (886, 591)  # pages do not turn, portraits neither
            check_border(img, (30, 30, 856, 561), WHITE)
    with Image.open(io.BytesIO(pages[0])) as img:
        assert marker_corner(img) == "top-left"


# --- fit "none": the photo's own pixels -------------------------------------------------


def test_fit_none_keeps_the_pixels_and_centres_them(tmp_path: Path, out_dir: Path) -> None:
    # A lossless photo with 1-pixel grain: any scaling or shift would smooth or move it.
    src = make_photo(tmp_path / "in.png", (1000, 700), noise=20)
    product = replace(NONE_6X4, jpeg_quality=100, jpeg_subsampling="4:4:4")
    result = convert_image(product, src, out_dir / "0001.jpg")
    assert (result.width, result.height) == (1800, 1200)
    with Image.open(src) as original, Image.open(result.output) as img:
        assert img.size == (1800, 1200)
        assert img.info["dpi"] == pytest.approx((300, 300))
        # Centred: 400 px of white left and right, 250 px above and below.
        assert picture_box(img, WHITE) == pytest.approx((400, 250, 1400, 950), abs=1)
        placed = img.crop((400, 250, 1400, 950))
        same = ImageStat.Stat(ImageChops.difference(placed, original.convert("RGB"))).mean
        assert max(same) < 2, same  # JPEG at quality 100: the same pixels
        shifted = img.crop((401, 250, 1401, 950))
        moved = ImageStat.Stat(ImageChops.difference(shifted, original.convert("RGB"))).mean
        assert min(moved) > 10, moved  # and the grain is real: one pixel off is far off


def test_fit_none_marker_block_keeps_its_size(tmp_path: Path, out_dir: Path) -> None:
    # make_photo's red block is a quarter of the short side: 175x175 px of a 1000x700 photo.
    src = make_photo(tmp_path / "in.jpg", (1000, 700), noise=0)
    convert_image(NONE_6X4, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        assert img.size == (1800, 1200)
        red = ImageChops.difference(img, Image.new("RGB", img.size, RED)).convert("L")
        assert red.point(lambda v: 255 if v < 40 else 0).getbbox() == pytest.approx(
            (400, 250, 575, 425), abs=1
        )
        check_border(img, (400, 250, 1400, 950), WHITE)


def test_fit_none_is_not_scaled_in_the_decoder(tmp_path: Path) -> None:
    # 12x8 in at 300 dpi is 3600x2400: a photo of that size is decoded whole, not at 1/2.
    product = replace(NONE_6X4, width_mm=304.8, height_mm=203.2)
    for shown in ((3600, 2400), (2400, 3600), (1000, 700)):
        area = convert_image_module._target(product, shown)
        assert convert_image_module._cover_or_fit_size(shown, area, Fit.NONE, at_least=True) == (
            shown
        )
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), noise=0)
    with Image.open(src) as img:
        assert convert_image_module._decode(product, src, img).image.size == (3600, 2400)


def test_fit_none_applies_the_orientation(tmp_path: Path, out_dir: Path) -> None:
    # Stored 1000x700, shown 700x1000 (EXIF 6): a portrait print, the photo upright in it.
    src = make_photo(tmp_path / "in.jpg", (1000, 700), orientation=6, noise=0)
    result = convert_image(NONE_6X4, src, out_dir / "0001.jpg")
    assert (result.width, result.height) == (1200, 1800)
    with Image.open(result.output) as img:
        assert img.size == (1200, 1800)
        assert marker_corner(img) == "top-left"
        assert marker_corner(img, "green") == "top-right"  # not mirrored
        red = ImageChops.difference(img, Image.new("RGB", img.size, RED)).convert("L")
        assert red.point(lambda v: 255 if v < 40 else 0).getbbox() == pytest.approx(
            (250, 400, 425, 575), abs=1
        )
        check_border(img, (250, 400, 950, 1400), WHITE)


def test_fit_none_inside_a_border(tmp_path: Path, out_dir: Path) -> None:
    # The picture area is 1682x1082: a photo of exactly that size fills it, 59 px around.
    src = make_photo(tmp_path / "in.jpg", (1682, 1082), noise=0)
    convert_image(NONE_BORDER, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as img:
        check_border(img, (59, 59, 1741, 1141), WHITE)


@pytest.mark.parametrize(
    ("product", "size", "orientation", "says"),
    [
        pytest.param(
            NONE_6X4,
            (2400, 1600),
            1,
            "IMG_1.jpg: 2400 x 1600 pixels, larger than the print (1800 x 1200 pixels at "
            "300 dpi); resize it, or use a fill or fit product",
            id="both-sides",
        ),
        # Exactly twice the print: the decoder could halve it to fit, and must not.
        pytest.param(
            NONE_6X4,
            (3600, 2400),
            1,
            "IMG_1.jpg: 3600 x 2400 pixels, larger than the print (1800 x 1200 pixels",
            id="twice-the-print",
        ),
        pytest.param(
            NONE_6X4,
            (1801, 1000),
            1,
            "IMG_1.jpg: 1801 x 1000 pixels, larger than the print (1800 x 1200 pixels",
            id="one-pixel-too-wide",
        ),
        # Shown 1100x1900 (EXIF 8): a portrait print, 1200x1800, too short for it.
        pytest.param(
            NONE_6X4,
            (1900, 1100),
            8,
            "IMG_1.jpg: 1100 x 1900 pixels, larger than the print (1200 x 1800 pixels",
            id="turned",
        ),
        # 1700x1000 fits the print, not the picture area inside a 5 mm border.
        pytest.param(
            NONE_BORDER,
            (1700, 1000),
            1,
            "IMG_1.jpg: 1700 x 1000 pixels, larger than the print's picture area "
            "(1682 x 1082 pixels at 300 dpi, inside a 5 mm border); resize it, or use a "
            "fill or fit product",
            id="inside-a-border",
        ),
    ],
)
def test_fit_none_refuses_a_photo_larger_than_the_print(
    tmp_path: Path,
    out_dir: Path,
    *,
    product: Product,
    size: tuple[int, int],
    orientation: int,
    says: str,
) -> None:
    src = make_photo(tmp_path / "IMG_1.jpg", size, orientation=orientation, noise=0)
    before = src.read_bytes()
    with pytest.raises(InputRejected) as caught:
        convert_image(product, src, out_dir / "0001.jpg")
    assert caught.value.rule == RULE_LARGER_THAN_PRINT
    assert caught.value.reason.startswith(says)
    assert src.read_bytes() == before
    assert snapshot(out_dir) == {}


def test_fit_none_job_with_a_large_photo_prints_nothing(tmp_path: Path, out_dir: Path) -> None:
    inputs = [
        make_photo(tmp_path / "small.jpg", (1000, 700)),
        make_photo(tmp_path / "large.jpg", (2400, 1600)),
    ]
    before = {p: p.read_bytes() for p in inputs}
    with pytest.raises(InputRejected) as caught:
        convert_job(NONE_6X4, inputs, out_dir)
    assert caught.value.rule == RULE_LARGER_THAN_PRINT
    assert caught.value.reason == (
        "1 of 2 files cannot be printed: large.jpg: 2400 x 1600 pixels, larger than the print "
        "(1800 x 1200 pixels at 300 dpi); resize it, or use a fill or fit product"
    )
    assert snapshot(out_dir) == {}  # the small photo's print is gone too
    assert {p: p.read_bytes() for p in inputs} == before
