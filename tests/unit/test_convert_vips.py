"""The fast path for big RGB and grey JPEGs (labd.convert.jpegdecode: libjpeg-turbo at M/8,
libvips' Lanczos-3): the same print as Pillow would make, damaged files still refused in
Pillow's words, and libvips parsing no file and caching nothing."""

from __future__ import annotations

import errno
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import pytest
import pyvips
from PIL import Image, ImageChops, ImageStat, JpegImagePlugin
from structlog.testing import capture_logs

from labd.convert import RULE_TRUNCATED, colour, convert_image, jpegdecode, turbojpeg, webp
from labd.convert import image as convert_image_module
from labd.model import Fit, OutputFormat, Product
from tests.imagegen import (
    adobe_rgb_like_profile,
    camera_srgb_profile,
    make_photo,
    marker_corner,
    near,
    pixel,
    rgb_lut_profile,
)
from tests.refusals import refused_untouched

Box = tuple[float, float, float, float]
PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)


def pillow_print(src: Path) -> Image.Image:
    """The print as Pillow alone makes it: full decode, LANCZOS to 1800x1200."""
    with Image.open(src) as img:
        return img.convert("RGB").resize((1800, 1200), Image.Resampling.LANCZOS)


def plan_6x4(size: tuple[int, int]) -> tuple[tuple[int, int], Box | None]:
    """What a 6x4 in fill print makes of an upright photo decoded at ``size``."""
    return convert_image_module._scaling(PRINT_6X4, size, (1800, 1200))


@pytest.mark.parametrize(
    ("size", "eighths"),
    [
        pytest.param((3600, 2400), 4, id="2x-the-print"),
        pytest.param((6000, 4000), 3, id="24-MP-camera"),
        pytest.param((7200, 4800), 2, id="4x-the-print"),
        pytest.param((20000, 12000), 1, id="11x-the-print"),
        pytest.param((3599, 2400), 4, id="half-a-pixel-under-2x"),
        pytest.param((3500, 2400), 5, id="under-2x"),
        pytest.param((1801, 1201), 8, id="just-over-the-print"),
        pytest.param((1800, 1200), 8, id="the-print"),
    ],
)
def test_the_decoder_scales_as_far_as_the_print_allows(size: tuple[int, int], eighths: int) -> None:
    assert jpegdecode.scale_for(size, (1800, 1200)) == eighths
    w, h = size
    # libjpeg rounds up: M/8 keeps the print's pixels, (M-1)/8 would not.
    assert -(-w * eighths // 8) >= 1800
    assert -(-h * eighths // 8) >= 1200
    if eighths > 1:
        assert -(-w * (eighths - 1) // 8) < 1800 or -(-h * (eighths - 1) // 8) < 1200


def test_a_camera_photo_is_decoded_at_three_eighths(tmp_path: Path) -> None:
    """6000x4000 for 1800x1200: 2250x1500 decoded (3/8), where 1/2 would be 3000x2000."""
    src = make_photo(tmp_path / "in.jpg", (6000, 4000), noise=0)
    seen: list[tuple[int, int]] = []

    def plan(size: tuple[int, int]) -> tuple[tuple[int, int], Box | None]:
        seen.append(size)
        return plan_6x4(size)

    with Image.open(src) as img:
        scaled = jpegdecode.decode_scaled(src, img, (1800, 1200), plan)
    assert seen == [(2250, 1500)]
    assert scaled is not None
    assert scaled.size == (1800, 1200)
    assert marker_corner(scaled.to_pillow()) == "top-left"


def test_big_jpeg_is_decoded_and_scaled_by_libvips(tmp_path: Path) -> None:
    src = make_photo(tmp_path / "in.jpg", (7200, 4800), noise=0)
    with Image.open(src) as img:
        need = convert_image_module._decode_size(img, PRINT_6X4)
        scaled = jpegdecode.decode_scaled(src, img, need, plan_6x4)
    assert scaled is not None
    assert scaled.size == (1800, 1200)
    assert marker_corner(scaled.to_pillow()) == "top-left"


@pytest.mark.parametrize("orientation", [pytest.param(o, id=str(o)) for o in range(1, 9)])
@pytest.mark.parametrize("fit", [Fit.FILL, Fit.FIT])
def test_libvips_turns_the_photo_upright(
    tmp_path: Path, out_dir: Path, orientation: int, fit: Fit
) -> None:
    """The fast path turns (and mirrors) in libvips: the print shows the photo as EXIF says,
    the same as Pillow's path does (test_convert.py::test_exif_orientation_is_applied)."""
    src = make_photo(tmp_path / "in.jpg", (4800, 3200), orientation=orientation, noise=0)
    product = replace(PRINT_6X4, fit=fit)
    with Image.open(src) as img:
        need = convert_image_module._decode_size(img, product)
        # The path under test is the one taken.
        assert jpegdecode.decode_scaled(src, img, need, plan_6x4, orientation) is not None
    result = convert_image(product, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == ((1200, 1800) if orientation >= 5 else (1800, 1200))
        assert marker_corner(printed) == "top-left"
        assert marker_corner(printed, "green") == "top-right"  # not mirrored


def test_jpeg_the_print_needs_whole_is_left_to_pillow(tmp_path: Path) -> None:
    src = make_photo(tmp_path / "in.jpg", (2000, 1300), noise=0)
    with Image.open(src) as img:
        assert jpegdecode.decode_scaled(src, img, (1800, 1200), plan_6x4) is None


def test_libvips_print_matches_pillows(tmp_path: Path, out_dir: Path) -> None:
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), noise=6)
    with Image.open(src) as img:
        assert (
            jpegdecode.decode_scaled(src, img, (1800, 1200), plan_6x4) is not None
        )  # the path taken
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == (1800, 1200)
        assert marker_corner(printed) == "top-left"
        difference = ImageStat.Stat(
            ImageChops.difference(printed.convert("RGB"), pillow_print(src))
        )
    # Both are Lanczos-3 on the same picture; what differs is the decoder's 1/2 scaling
    # and JPEG noise: a few code values on average, where a shifted or wrongly cropped
    # picture differs by tens.
    assert max(difference.mean) < 3.0, difference.mean


def test_libvips_fill_crop_matches_pillows(tmp_path: Path, out_dir: Path) -> None:
    # 4000x2000 (2:1) filled into 1800x1200: the centre 3000x2000 region, at 1/2 scale.
    src = make_photo(tmp_path / "in.jpg", (4000, 2000), noise=6)
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(src) as img:
        expected = img.convert("RGB").resize(
            (1800, 1200), Image.Resampling.LANCZOS, box=(500, 0, 3500, 2000)
        )
    with Image.open(result.output) as printed:
        difference = ImageStat.Stat(ImageChops.difference(printed.convert("RGB"), expected))
    assert max(difference.mean) < 3.0, difference.mean


def test_nearly_square_portrait_prints_portrait_on_both_paths(
    tmp_path: Path, out_dir: Path
) -> None:
    # 3001x3002 decodes at 1/2 as 1501x1501 (both round up): still a portrait, on a
    # portrait print, whichever decoder shrank it.
    fit = replace(PRINT_6X4, fit=Fit.FIT)
    rgb = make_photo(tmp_path / "rgb.jpg", (3001, 3002), noise=0)  # libvips
    cmyk = make_photo(tmp_path / "cmyk.jpg", (3001, 3002), mode="CMYK", noise=0)  # Pillow
    with Image.open(rgb) as img:
        assert jpegdecode.scale_for(img.size, convert_image_module._decode_size(img, fit)) == 4
    for n, src in enumerate((rgb, cmyk), start=1):
        result = convert_image(fit, src, out_dir / f"{n:04d}.jpg")
        assert (result.width, result.height) == (1200, 1800), src.name


def test_grey_jpeg_takes_the_libvips_path(tmp_path: Path, out_dir: Path) -> None:
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), mode="L", noise=0)
    with Image.open(src) as img:
        scaled = jpegdecode.decode_scaled(src, img, (1800, 1200), plan_6x4)
        assert scaled is not None
        assert scaled.mode == "L"
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.mode == "RGB"
        assert printed.size == (1800, 1200)


def test_cmyk_jpeg_is_left_to_pillow(tmp_path: Path, out_dir: Path) -> None:
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), mode="CMYK", noise=0)
    with Image.open(src) as img:
        assert jpegdecode.decode_scaled(src, img, (1800, 1200), plan_6x4) is None
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == (1800, 1200)
        assert marker_corner(printed) == "top-left"


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_embedded_profile_still_applies(tmp_path: Path, out_dir: Path, suffix: str) -> None:
    """The photo's profile is applied on the fast paths, a JPEG's and a WebP's."""
    plain = make_photo(tmp_path / f"plain{suffix}", (3600, 2400), noise=0)
    tagged = make_photo(
        tmp_path / f"tagged{suffix}", (3600, 2400), noise=0, icc_profile=adobe_rgb_like_profile()
    )
    a = convert_image(PRINT_6X4, plain, out_dir / "0001.jpg")
    b = convert_image(PRINT_6X4, tagged, out_dir / "0002.jpg")
    with Image.open(a.output) as pa, Image.open(b.output) as pb:
        # The red marker block: Adobe RGB red is outside sRGB's gamut, so it moves.
        assert pa.getpixel((50, 50)) != pb.getpixel((50, 50))


def test_truncated_big_jpeg_is_refused_in_pillows_words(tmp_path: Path, out_dir: Path) -> None:
    whole = make_photo(tmp_path / "whole.jpg", (3600, 2400), noise=6).read_bytes()
    src = tmp_path / "IMG_0001.jpg"
    src.write_bytes(whole[: len(whole) * 2 // 3])
    with refused_untouched(out_dir, src) as caught:
        convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert caught.value.rule == RULE_TRUNCATED
    assert str(caught.value).startswith("IMG_0001.jpg: truncated or damaged")


def test_what_libjpeg_turbo_refuses_pillow_judges(tmp_path: Path, out_dir: Path) -> None:
    """Corrupt entropy data that libjpeg only warns about: the fast path gives up, Pillow
    prints it as it did before (one judge for every format, not two)."""
    data = bytearray(make_photo(tmp_path / "whole.jpg", (3600, 2400), noise=6).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff\xd0" * 32  # stray restart markers in the scan
    src = tmp_path / "IMG_0002.jpg"
    src.write_bytes(bytes(data))
    with Image.open(src) as img, pytest.raises(jpegdecode.DecodeError):
        jpegdecode.decode_scaled(src, img, (1800, 1200), plan_6x4)
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == (1800, 1200)
        assert marker_corner(printed) == "top-left"
    assert src.read_bytes() == bytes(data)


def test_libvips_parses_no_file(tmp_path: Path) -> None:
    png = tmp_path / "in.png"
    Image.new("RGB", (64, 64), "red").save(png)
    jpeg = make_photo(tmp_path / "in.jpg", (64, 64), noise=0)
    for src in (png, jpeg):
        with pytest.raises(pyvips.Error):
            pyvips.Image.new_from_file(str(src), access="sequential").copy_memory()
    # What it is for: pixels handed to it.
    assert pyvips.Image.new_from_memory(bytes(12), 2, 2, 3, "uchar").width == 2


def test_libvips_keeps_nothing_after_a_conversion(tmp_path: Path, out_dir: Path) -> None:
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), noise=0)
    convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    assert pyvips.cache_get_size() == 0  # no customer pixels or open files held
    assert pyvips.concurrency_get() == 1


# --- the print finished in libvips: colour, border, encoding ------------------------------

PRINTER = "printer"


def _finishing_product(output: str, fit: Fit, border_mm: float) -> Product:
    icc = rgb_lut_profile("Test printer") if output == PRINTER else None
    return replace(
        PRINT_6X4,
        fit=fit,
        border_mm=border_mm,
        border_colour=(200, 30, 40),
        output_icc=icc,
        jpeg_subsampling="4:4:4",
    )


def _finished_by_pillow(product: Product, src: Path, out: Path) -> Path:
    """The print of ``src`` as Pillow finishes the same scaled picture: littlecms or the 3D
    table, Pillow's canvas and encoder (what labd did before libvips finished it)."""
    with Image.open(src) as img:
        photo = convert_image_module._decode(product, src, img)
        assert isinstance(photo.image, jpegdecode.Scaled)  # the path under test
        by_pillow = replace(photo, image=photo.image.to_pillow())
        printed = convert_image_module._render(product, by_pillow, src)
    assert isinstance(printed, Image.Image)
    convert_image_module._write_jpeg(printed, product, out)
    return out


@dataclass(frozen=True)
class Finishing:
    profile: str | None  # the photo's: "srgb", "adobe" or None (untagged)
    mode: str
    output: str  # "srgb" or PRINTER
    fit: Fit
    border_mm: float


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(Finishing("srgb", "RGB", "srgb", Fit.FILL, 0), id="sRGB-nothing-to-do"),
        pytest.param(Finishing("adobe", "RGB", "srgb", Fit.FILL, 0), id="Adobe-RGB-to-sRGB"),
        pytest.param(Finishing("adobe", "RGB", PRINTER, Fit.FILL, 0), id="Adobe-RGB-to-printer"),
        pytest.param(Finishing(None, "RGB", PRINTER, Fit.FIT, 5), id="untagged-to-printer-fit"),
        pytest.param(Finishing("adobe", "RGB", "srgb", Fit.FILL, 3), id="fill-with-border"),
        pytest.param(Finishing(None, "L", "srgb", Fit.FIT, 5), id="grey-fit-border"),
        pytest.param(Finishing(None, "L", PRINTER, Fit.FILL, 0), id="grey-to-printer"),
    ],
)
def test_libvips_finishes_the_print_as_pillow_would(
    tmp_path: Path, out_dir: Path, case: Finishing
) -> None:
    """Colour, border and encoding in libvips give the print Pillow would make from the same
    scaled picture: the same size, border colour and placement, the same colours within
    what the 3D table and JPEG rounding leave, the same profile and resolution."""
    icc = {"srgb": camera_srgb_profile(), "adobe": adobe_rgb_like_profile(), None: None}
    src = make_photo(
        tmp_path / "in.jpg", (3000, 2400), mode=case.mode, noise=6, icc_profile=icc[case.profile]
    )
    product = _finishing_product(case.output, case.fit, case.border_mm)
    ours = convert_image(product, src, out_dir / "0001.jpg")
    theirs = _finished_by_pillow(product, src, tmp_path / "pillow.jpg")
    with Image.open(ours.output) as a, Image.open(theirs) as b:
        assert (a.size, a.mode) == (b.size, b.mode) == ((ours.width, ours.height), "RGB")
        assert a.info["icc_profile"] == b.info["icc_profile"] == colour.output_icc(product)
        assert a.info["dpi"] == b.info["dpi"] == (300, 300)
        if case.mode == "RGB":
            assert marker_corner(a, border=product.border_colour) == "top-left"
        if product.border_pixels or case.fit is Fit.FIT:
            assert near(pixel(a, (2, 2)), product.border_colour, tolerance=2)
            assert near(pixel(b, (2, 2)), product.border_colour, tolerance=2)
        difference = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    # JPEG rounding and littlecms against its own 3D table: about a code value; a shifted
    # picture, a wrong profile or a lost conversion differs by tens.
    assert max(difference.mean) < 1.5, difference.mean


def test_a_422_product_is_encoded_by_pillow(tmp_path: Path, out_dir: Path) -> None:
    """libvips encodes 4:4:4 and 4:2:0 only: a 4:2:2 product's print is what it asks for."""
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), noise=6)
    product = replace(PRINT_6X4, jpeg_subsampling="4:2:2")
    convert_image(product, src, out_dir / "0001.jpg")
    with Image.open(out_dir / "0001.jpg") as printed:
        assert JpegImagePlugin.get_sampling(printed) == 1  # Pillow's number for 4:2:2
        assert marker_corner(printed) == "top-left"


def test_a_full_disk_is_an_oserror_and_leaves_no_file(tmp_path: Path) -> None:
    """A failed write is the disk's fault, not the photo's: it is raised as the OSError it
    is (never as a rejection of the customer's file), and nothing is left behind."""
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), noise=6)
    with Image.open(src) as img:
        photo = convert_image_module._decode(PRINT_6X4, src, img)
        picture = convert_image_module._render(PRINT_6X4, photo, src)
    assert isinstance(picture, jpegdecode.Scaled)
    full = Path("/dev/full").open("wb", buffering=0)  # noqa: SIM115  (closed below)
    with full, pytest.raises(OSError, match="No space left") as caught:
        jpegdecode.encode(picture, full, quality=90, subsampling="4:2:0", dpi=300, icc=b"")
    assert caught.value.errno == errno.ENOSPC
    assert src.read_bytes()  # the photo is untouched


# --- libjpeg-turbo through labd.convert.turbojpeg ------------------------------------------


@pytest.mark.parametrize("eighths", range(1, 8))
def test_libjpeg_turbo_decodes_at_every_eighth(tmp_path: Path, eighths: int) -> None:
    src = make_photo(tmp_path / "in.jpg", (1203, 803), noise=6)
    pixels, width, height = turbojpeg.decode(src.read_bytes(), "RGB", eighths)
    assert (width, height) == turbojpeg.scaled_size((1203, 803), eighths)
    assert (width, height) == (-(-1203 * eighths // 8), -(-803 * eighths // 8))
    assert len(pixels) == width * height * 3
    decoded = Image.frombytes("RGB", (width, height), bytes(pixels))
    assert marker_corner(decoded) == "top-left"
    if eighths == 4:  # Pillow's draft() asks libjpeg for the same 1/2
        with Image.open(src) as img:
            img.draft("RGB", (600, 400))  # at least this: 1/2 scale
            halved = img.convert("RGB")
        assert halved.size == (width, height)
        assert max(ImageStat.Stat(ImageChops.difference(decoded, halved)).mean) < 1.0


def test_libjpeg_turbo_refuses_what_is_not_a_whole_jpeg(tmp_path: Path) -> None:
    whole = make_photo(tmp_path / "in.jpg", (1200, 800), noise=6).read_bytes()
    for data in (whole[: len(whole) // 2], b"not a jpeg at all", whole[:200]):
        with pytest.raises(turbojpeg.TurboJPEGError):
            turbojpeg.decode(data, "RGB", 3)


def test_libjpeg_turbo_decodes_only_the_size_labd_checked(tmp_path: Path) -> None:
    """The size Pillow read (and labd held against its pixel limit) is the size decoded:
    a frame libjpeg-turbo reads otherwise is refused before memory is set aside for it."""
    data = make_photo(tmp_path / "in.jpg", (1200, 800), noise=0).read_bytes()
    assert turbojpeg.decode(data, "RGB", 4, size=(1200, 800))[1:] == (600, 400)
    for other in ((1200, 801), (800, 1200), (60000, 60000)):
        with pytest.raises(turbojpeg.TurboJPEGError, match="the frame is 1200 x 800"):
            turbojpeg.decode(data, "RGB", 4, size=other)


@pytest.mark.parametrize(
    ("suffix", "decoder"), [(".jpg", turbojpeg), (".webp", webp)], ids=["jpeg", "webp"]
)
def test_without_the_decoders_library_pillow_prints_and_labd_says_so(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, decoder: ModuleType
) -> None:
    """A server without Debian's libturbojpeg0 or libwebp7 still prints: Pillow decodes
    the photo, and one warning says what it costs and how to mend it.  Fakes the missing
    library (a test cannot uninstall a system package): its loader answers None."""
    monkeypatch.setattr(decoder, "_library", lambda: None)
    jpegdecode._say_missing.cache_clear()
    src = make_photo(tmp_path / f"in{suffix}", (3600, 2400), noise=6)
    with Image.open(src) as img, capture_logs() as logs:
        need = convert_image_module._decode_size(img, PRINT_6X4)
        for _ in range(2):
            assert convert_image_module._decode_scaled(PRINT_6X4, src, img, need, need) is None
    warned = [e for e in logs if e["event"].endswith("_missing")]
    assert [e["library"] for e in warned] == [decoder.LIBRARY]  # once
    assert decoder.PACKAGE in warned[0]["fix"]
    assert decoder.PACKAGE in ("libturbojpeg0", "libwebp7")  # Debian's names
    result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
    with Image.open(result.output) as printed:
        assert printed.size == (1800, 1200)
        assert marker_corner(printed) == "top-left"
    assert src.read_bytes()  # the photo is untouched
    jpegdecode._say_missing.cache_clear()


def test_a_libvips_failure_after_the_decode_leaves_the_print_to_pillow(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not expected once libjpeg-turbo has decoded the photo, but if libvips fails to
    finish the print, Pillow makes it, and the log says so.  Fakes the failure (nothing
    makes libvips fail on pixels it was handed): its encoder raises as a failure would."""

    def failing(*_args: object, **_kwargs: object) -> None:
        raise jpegdecode.DecodeError("libvips could not make the print")

    monkeypatch.setattr(jpegdecode, "encode", failing)
    monkeypatch.setattr(jpegdecode.Scaled, "to_pillow", failing)
    src = make_photo(tmp_path / "in.jpg", (3600, 2400), noise=6)
    with capture_logs() as logs:
        result = convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
        rendered, _ = convert_image_module.render_image(PRINT_6X4, src)
    assert [e["event"] for e in logs].count("convert.libvips_failed") == 2
    with Image.open(result.output) as printed:
        assert printed.size == rendered.size == (1800, 1200)
        assert marker_corner(printed) == "top-left"
        assert printed.info["icc_profile"] == colour.SRGB_ICC
    assert [p.name for p in out_dir.iterdir()] == ["0001.jpg"]  # no temporary file left
