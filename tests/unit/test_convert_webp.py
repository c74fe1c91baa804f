"""WebP photos decoded by libwebp at the size the print needs (labd.convert.webp,
labd.convert.jpegdecode.decode_webp), where Pillow held 17 bytes for every pixel of the
photo: the print Pillow would make, turned upright, transparency on white, damaged files
refused in Pillow's words (its colour profile, and Pillow printing where libwebp is
missing: in test_convert_vips.py, with the JPEG route's)."""

from __future__ import annotations

import ctypes
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from PIL import Image, ImageChops, ImageStat

from labd.convert import RULE_TRUNCATED, convert_image, jpegdecode, webp
from labd.convert import image as convert_image_module
from labd.model import Fit, OutputFormat, Product
from tests.imagegen import make_photo, marker_corner, near, pixel
from tests.refusals import refused_untouched

Box = tuple[float, float, float, float]
PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)

pytestmark = pytest.mark.skipif(not webp.available(), reason="libwebp7 is not installed")


def plan_6x4(size: tuple[int, int]) -> tuple[tuple[int, int], Box | None]:
    """What a 6x4 in fill print makes of an upright photo decoded at ``size``."""
    return convert_image_module._scaling(PRINT_6X4, size, (1800, 1200))


def decoded(src: Path, product: Product = PRINT_6X4) -> jpegdecode.Scaled | None:
    """``src`` through the WebP decoder, as labd's conversion calls it."""
    with Image.open(src) as img:
        need = convert_image_module._decode_size(img, product)
        orientation = convert_image_module._orientation(img)
        return jpegdecode.decode_webp(src, img, need, plan_6x4, orientation)


def test_a_webp_is_decoded_at_the_size_the_print_needs(tmp_path: Path) -> None:
    src = make_photo(tmp_path / "in.webp", (6000, 4000), noise=0)
    scaled = decoded(src)
    assert scaled is not None
    # The decoder's buffer holds the print's 1800x1200 pixels, not the photo's 24 MP.
    assert scaled.source is not None
    assert scaled.source.nbytes == 3 * 1800 * 1200
    assert scaled.size == (1800, 1200)
    assert marker_corner(scaled.to_pillow()) == "top-left"


def test_a_webp_print_matches_pillows(tmp_path: Path, out_dir: Path) -> None:
    src = make_photo(tmp_path / "in.webp", (3600, 2400), noise=6)
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(src) as img:
        by_pillow = img.convert("RGB").resize((1800, 1200), Image.Resampling.LANCZOS)
    with Image.open(result.output) as printed:
        assert printed.size == (1800, 1200)
        assert marker_corner(printed) == "top-left"
        difference = ImageStat.Stat(ImageChops.difference(printed.convert("RGB"), by_pillow))
    # libwebp's area average then Lanczos-3, against Lanczos-3 alone: a code value or two
    # on average, where a shifted or wrongly cropped picture differs by tens.
    assert max(difference.mean) < 3.0, difference.mean


@pytest.mark.parametrize("orientation", [pytest.param(o, id=str(o)) for o in range(1, 9)])
def test_a_webp_is_turned_upright(tmp_path: Path, out_dir: Path, orientation: int) -> None:
    src = make_photo(tmp_path / "in.webp", (2700, 1800), orientation=orientation, noise=0)
    assert decoded(src) is not None  # the path under test is the one taken
    result = convert_image(replace(PRINT_6X4, fit=Fit.FIT), src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == ((1200, 1800) if orientation >= 5 else (1800, 1200))
        assert marker_corner(printed) == "top-left"
        assert marker_corner(printed, "green") == "top-right"  # not mirrored


def test_a_transparent_webp_is_printed_on_white(tmp_path: Path, out_dir: Path) -> None:
    """Opaque red on the left, a blue the customer cannot see on the right (alpha 0), and
    green at half opacity in between: on the print red, white, and green half on white."""
    photo = Image.new("RGBA", (2700, 1800), (0, 0, 255, 0))
    photo.paste((255, 0, 0, 255), (0, 0, 900, 1800))
    photo.paste((0, 255, 0, 128), (900, 0, 1800, 1800))
    src = tmp_path / "in.webp"
    photo.save(src, lossless=True)
    scaled = decoded(src)
    assert scaled is not None
    assert scaled.source is None  # premultiplied RGBA: no colour table applies there
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert near(pixel(printed, (300, 600)), (255, 0, 0), 6)
        assert near(pixel(printed, (900, 600)), (127, 255, 127), 6)
        assert near(pixel(printed, (1500, 600)), (255, 255, 255), 6)


@pytest.mark.parametrize("damage", ["truncated", "overlong"])
def test_a_damaged_webp_is_refused_in_pillows_words(
    tmp_path: Path, out_dir: Path, damage: str
) -> None:
    """Cut short (Pillow refuses it as it opens it), or with a picture that says it is
    longer than its file (Pillow opens it, libwebp refuses it): either way Pillow's words,
    nothing written."""
    whole = make_photo(tmp_path / "whole.webp", (2700, 1800)).read_bytes()
    src = tmp_path / "IMG_0001.webp"
    if damage == "truncated":
        src.write_bytes(whole[: len(whole) * 2 // 3])
    else:
        # The VP8 frame tag: its first partition's length (bits 5-23) at the most.
        at = whole.index(b"VP8 ") + 8
        tag = int.from_bytes(whole[at : at + 3], "little") | 0x7FFFF << 5
        src.write_bytes(whole[:at] + tag.to_bytes(3, "little") + whole[at + 3 :])
        with pytest.raises(jpegdecode.DecodeError):
            decoded(src)
    with refused_untouched(out_dir, src) as caught:
        convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert caught.value.rule == RULE_TRUNCATED
    assert str(caught.value).startswith("IMG_0001.webp: truncated or damaged")


def test_libwebp_decodes_only_what_labd_checked(tmp_path: Path) -> None:
    data = make_photo(tmp_path / "in.webp", (300, 200)).read_bytes()
    with pytest.raises(webp.WebPError, match="300 x 200, not 300 x 201"):
        webp.decode(data, (300, 201), (150, 100))
    with pytest.raises(ValueError, match="cannot scale"):
        webp.decode(data, (300, 200), (600, 400))
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue")]
    animation = tmp_path / "anim.webp"
    frames[0].save(animation, save_all=True, append_images=frames[1:])
    with pytest.raises(webp.WebPError, match="animation"):
        webp.decode(animation.read_bytes(), (64, 48), (64, 48))
    pixels, bands = webp.decode(data, (300, 200), (300, 200))
    assert (len(pixels), bands) == (300 * 200 * 3, 3)


def test_fit_none_prints_a_webps_own_pixels(tmp_path: Path, out_dir: Path) -> None:
    """Fit "none" is not scaled (Pillow decodes it, as a JPEG the print needs whole): a
    1000x700 lossless WebP sits unscaled in the middle of a 1800x1200 print."""
    with Image.open(make_photo(tmp_path / "in.png", (1000, 700), noise=20)) as photo:
        original = photo.convert("RGB")
    src = tmp_path / "in.webp"
    original.save(src, lossless=True)
    product = replace(PRINT_6X4, fit=Fit.NONE, jpeg_quality=100, jpeg_subsampling="4:4:4")
    result = convert_image(product, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == (1800, 1200)
        placed = printed.crop((400, 250, 1400, 950)).convert("RGB")
        same = ImageStat.Stat(ImageChops.difference(placed, original)).mean
        assert max(same) < 2, same  # the photo's pixels, where they belong
        assert near(pixel(printed, (200, 600)), (255, 255, 255), 4)  # white around it


def test_a_libwebp_of_another_interface_counts_as_missing() -> None:
    """A libwebp whose decoding ABI is not the one labd's structures follow refuses to
    initialise them: labd then takes it as missing (Pillow decodes).  Fakes that library
    (Debian 12 has only the one): its functions, the initialiser answering 0."""

    def refusing() -> Callable[..., int]:
        def refuse(*_args: object) -> int:
            return 0

        return refuse  # a function of its own: ctypes' typing sets attributes on it

    names = ("WebPInitDecoderConfigInternal", "WebPGetFeaturesInternal", "WebPDecode")
    other = types.SimpleNamespace(**{name: refusing() for name in (*names, "WebPFreeDecBuffer")})
    with pytest.raises(OSError, match="decoding interface is not ABI 0x0209"):
        webp._Lib(cast("ctypes.CDLL", other))
