"""Output profiles, rendering intents and colour accuracy, on real images."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageChops, ImageCms

from labd.convert import colour, convert_image
from labd.model import OutputFormat, Product, RenderingIntent
from tests.imagegen import (
    SRGB_BLUE_XYZ,
    SRGB_GREEN_XYZ,
    SRGB_RED_XYZ,
    _srgb_to_lab,
    adobe_rgb_like_profile,
    camera_srgb_profile,
    cmyk_lut_profile,
    make_photo,
    make_png16,
    make_tiff16,
    rgb_lut_profile,
    rgb_matrix_profile,
)

PRINT = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)

# Adobe RGB (1998) -> sRGB by the published matrices (D65, no gamut clipping needed here):
# an independent reference for littlecms' result.
_ADOBE_TO_XYZ = ((0.5767, 0.1856, 0.1882), (0.2973, 0.6274, 0.0753), (0.0270, 0.0707, 0.9911))
_XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def adobe_to_srgb(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    lin = [(v / 255) ** (563 / 256) for v in rgb]
    xyz = [sum(m * c for m, c in zip(row, lin, strict=True)) for row in _ADOBE_TO_XYZ]
    out = [sum(m * c for m, c in zip(row, xyz, strict=True)) for row in _XYZ_TO_SRGB]
    encoded = [12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055 for c in out]
    return (encoded[0], encoded[1], encoded[2])


def delta_e(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """CIE76 colour difference of two sRGB colours (0-1)."""
    la, lb = _srgb_to_lab(a), _srgb_to_lab(b)
    return float(sum((x - y) ** 2 for x, y in zip(la, lb, strict=True)) ** 0.5)


def centre(path: Path) -> tuple[float, ...]:
    with Image.open(path) as img:
        value = img.getpixel((img.width // 2, img.height // 2))
    assert isinstance(value, tuple)
    return tuple(v / 255 for v in value[:3])


def embedded(path: Path) -> bytes:
    with Image.open(path) as img:
        icc = img.info.get("icc_profile")
    assert isinstance(icc, bytes)
    return icc


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param((100, 150, 200), id="sky"),
        pytest.param((200, 120, 90), id="skin"),
        pytest.param((110, 150, 100), id="foliage"),
        pytest.param((128, 128, 128), id="grey"),
    ],
)
def test_adobe_rgb_patch_lands_on_its_srgb_value(
    tmp_path: Path, patch: tuple[int, int, int]
) -> None:
    src = tmp_path / "in.jpg"
    Image.new("RGB", (300, 200), patch).save(src, quality=98, icc_profile=adobe_rgb_like_profile())
    convert_image(PRINT, src, tmp_path / "out.jpg")
    assert delta_e(centre(tmp_path / "out.jpg"), adobe_to_srgb(patch)) < 2.0


def test_printer_profile_is_used_and_embedded(tmp_path: Path) -> None:
    printer = rgb_lut_profile("Minilab glossy")
    product = replace(PRINT, output_icc=printer, output_profile="minilab.icc")
    src = tmp_path / "in.jpg"
    Image.new("RGB", (300, 200), (100, 150, 200)).save(
        src, quality=98, icc_profile=adobe_rgb_like_profile()
    )
    convert_image(product, src, tmp_path / "out.jpg")
    assert embedded(tmp_path / "out.jpg") == printer
    # The test profile models sRGB with lookup tables: the colour is about the sRGB one.
    assert delta_e(centre(tmp_path / "out.jpg"), adobe_to_srgb((100, 150, 200))) < 3.0


def test_untagged_input_goes_to_the_printer_profile_as_srgb(tmp_path: Path) -> None:
    product = replace(PRINT, output_icc=rgb_lut_profile())
    src = tmp_path / "in.png"
    Image.new("L", (300, 200), 128).save(src)
    convert_image(product, src, tmp_path / "out.jpg")
    assert delta_e(centre(tmp_path / "out.jpg"), (128 / 255,) * 3) < 2.0


@pytest.mark.parametrize("intent", list(RenderingIntent))
@pytest.mark.parametrize("bpc", [True, False])
def test_intents_and_black_point_compensation(tmp_path: Path, intent, bpc) -> None:
    colour.clear_cache()
    product = replace(
        PRINT,
        output_icc=rgb_lut_profile(),
        rendering_intent=intent,
        black_point_compensation=bpc,
    )
    src = tmp_path / "in.jpg"
    Image.new("RGB", (300, 200), (60, 140, 60)).save(src, icc_profile=adobe_rgb_like_profile())
    for n in range(2):
        convert_image(product, src, tmp_path / f"{n}.jpg")
    assert colour.cache_size() == 1  # built once for the two files


def test_cmyk_with_its_profile(tmp_path: Path) -> None:
    # Naive-ink profile: magenta + yellow is red.
    src = tmp_path / "in.jpg"
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(src, icc_profile=cmyk_lut_profile())
    convert_image(PRINT, src, tmp_path / "out.jpg")
    assert delta_e(centre(tmp_path / "out.jpg"), (1.0, 0.0, 0.0)) < 3.0


def test_cmyk_without_profile_is_printed_plainly(tmp_path: Path) -> None:
    src = tmp_path / "in.tif"
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(src)
    convert_image(PRINT, src, tmp_path / "out.jpg")
    r, g, b = centre(tmp_path / "out.jpg")
    assert r > 0.9
    assert max(g, b) < 0.1


def test_16_bit_rgb_png_and_tiff(tmp_path: Path) -> None:
    # A 16-bit scan: 0x9C40/65535 is about 156/255.
    for src in (
        make_png16(tmp_path / "scan.png", (300, 200), (40000, 20000, 10000)),
        make_tiff16(tmp_path / "scan.tif", (300, 200), (40000, 20000, 10000)),
    ):
        convert_image(PRINT, src, tmp_path / "out.jpg")
        assert delta_e(centre(tmp_path / "out.jpg"), (156 / 255, 78 / 255, 39 / 255)) < 2.0


def test_16_bit_png_with_alpha_is_flattened(tmp_path: Path) -> None:
    src = make_png16(tmp_path / "cutout.png", (300, 200), (0, 0, 0, 0))
    convert_image(PRINT, src, tmp_path / "out.jpg")
    assert delta_e(centre(tmp_path / "out.jpg"), (1.0, 1.0, 1.0)) < 1.0


def test_heic_photo(tmp_path: Path) -> None:
    # pillow-heif writes the rotation into the file; labd prints the photo as shown.  The
    # test writes HEIF itself; labd registers the opener only when a HEIF file comes.
    pillow_heif.register_heif_opener()
    src = tmp_path / "IMG_0001.HEIC"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (600, 400), (200, 30, 30)).save(
        src, format="HEIF", quality=90, exif=exif.tobytes(), icc_profile=adobe_rgb_like_profile()
    )
    result = convert_image(PRINT, src, tmp_path / "out.jpg")
    assert (result.width, result.height) == (1200, 1800)
    assert delta_e(centre(tmp_path / "out.jpg"), adobe_to_srgb((200, 30, 30))) < 5.0
    assert embedded(tmp_path / "out.jpg") == colour.SRGB_ICC
    icc = ImageCms.ImageCmsProfile(io.BytesIO(embedded(tmp_path / "out.jpg")))
    assert "sRGB" in ImageCms.getProfileDescription(icc)


def _lcms(out: bytes, intent: int = 0) -> ImageCms.ImageCmsTransform:
    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(adobe_rgb_like_profile())),
        ImageCms.ImageCmsProfile(io.BytesIO(out)),
        "RGB",
        "RGB",
        renderingIntent=ImageCms.Intent(intent),
        flags=ImageCms.Flags.NOCACHE | ImageCms.Flags.BLACKPOINTCOMPENSATION,
    )


@pytest.mark.parametrize("intent", [0, 1], ids=["perceptual", "relative"])
def test_lookup_table_agrees_with_littlecms(intent: int) -> None:
    # Colours between the table's grid points (33 per axis, every 7.97 code values).
    transform = _lcms(rgb_lut_profile(), intent)
    lut = colour.LutTransform(transform)
    steps = [round(v * 255 / 16) for v in range(17)]
    data = bytes(
        c for b in steps for g in steps for r in steps for c in (min(255, r + 3), g, max(0, b - 5))
    )
    img = Image.frombytes("RGB", (len(data) // 3, 1), data)
    exact, looked_up = transform.apply(img).tobytes(), lut.apply(img).tobytes()
    errors = [
        delta_e(
            tuple(v / 255 for v in exact[i : i + 3]), tuple(v / 255 for v in looked_up[i : i + 3])
        )
        for i in range(0, len(exact), 3)
    ]
    assert sum(errors) / len(errors) < 0.5
    assert max(errors) < 2.0  # a code value or two, where littlecms clips to the gamut


def test_printer_profile_goes_through_a_lookup_table(tmp_path: Path) -> None:
    colour.clear_cache()
    printer = replace(PRINT, output_icc=rgb_lut_profile())
    srgb = colour.transform_for(adobe_rgb_like_profile(), "RGB", PRINT)
    assert isinstance(srgb, ImageCms.ImageCmsTransform)  # a matrix profile: littlecms is faster
    assert isinstance(
        colour.transform_for(adobe_rgb_like_profile(), "RGB", printer), colour.LutTransform
    )
    assert isinstance(colour.transform_for(None, "RGB", printer), colour.LutTransform)
    # CMYK has four channels: littlecms, not a 3D table.
    cmyk = colour.transform_for(cmyk_lut_profile(), "CMYK", printer)
    assert isinstance(cmyk, ImageCms.ImageCmsTransform)


def test_lookup_table_is_only_for_rgb() -> None:
    with_alpha = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("sRGB"), "RGB", "RGBA"
    )
    with pytest.raises(ValueError, match="RGB to RGB"):
        colour.LutTransform(with_alpha)


def test_heic_photo_in_a_fresh_process_loads_libheif_only_then(tmp_path: Path) -> None:
    """labd registers pillow-heif when the first HEIF file comes, not at import."""
    pillow_heif.register_heif_opener()
    src = tmp_path / "IMG_0002.HEIC"
    Image.new("RGB", (600, 400), (200, 30, 30)).save(src, format="HEIF", quality=90)
    script = f"""
import sys
from pathlib import Path
from labd.convert import convert_image
from labd.model import OutputFormat, Product
before = "pillow_heif" in sys.modules
product = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)
jpeg = Path({str(tmp_path)!r}) / "other.jpg"
from PIL import Image
Image.new("RGB", (600, 400)).save(jpeg)
convert_image(product, jpeg, jpeg.with_name("a.jpg"))
after_jpeg = "pillow_heif" in sys.modules
result = convert_image(product, Path({str(src)!r}), jpeg.with_name("b.jpg"))
print(before, after_jpeg, "pillow_heif" in sys.modules, result.width, result.height)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split()[-5:] == ["False", "False", "True", "1800", "1200"]


# --- colour work that cannot change a value is not done ---------------------------------------


def test_an_srgb_photo_for_an_srgb_print_gets_no_transform() -> None:
    colour.clear_cache()
    assert colour.transform_for(camera_srgb_profile(), "RGB", PRINT) is None
    assert colour.cache_size() == 1  # tried once, remembered
    assert colour.transform_for(camera_srgb_profile(), "RGB", PRINT) is None
    assert colour.cache_size() == 1


def test_profiles_that_move_colours_still_get_their_transform() -> None:
    # sRGB's primaries with a plain 2.2 gamma: close to sRGB, but the shadows move.
    gamma = rgb_matrix_profile("not quite sRGB", SRGB_RED_XYZ, SRGB_GREEN_XYZ, SRGB_BLUE_XYZ)
    printer = replace(PRINT, output_icc=rgb_lut_profile())
    assert colour.transform_for(gamma, "RGB", PRINT) is not None
    assert colour.transform_for(adobe_rgb_like_profile(), "RGB", PRINT) is not None
    assert colour.transform_for(camera_srgb_profile(), "RGB", printer) is not None


def test_a_skipped_transform_prints_what_littlecms_would(tmp_path: Path, out_dir: Path) -> None:
    tagged = make_photo(
        tmp_path / "tagged.jpg", (1800, 1200), icc_profile=camera_srgb_profile(), noise=0
    )
    plain = make_photo(tmp_path / "plain.jpg", (1800, 1200), noise=0)  # the same, untagged
    with Image.open(tagged) as img:
        source = img.convert("RGB")
    exact = ImageCms.profileToProfile(
        source,
        ImageCms.ImageCmsProfile(io.BytesIO(camera_srgb_profile())),
        ImageCms.createProfile("sRGB"),
    )
    assert exact is not None
    # littlecms would give back the same pixels, give or take its rounding ...
    moved = ImageChops.difference(exact, source)
    assert moved.point(lambda v: 255 if v > 1 else 0).getbbox() is None
    # ... so labd prints the tagged photo exactly as the untagged one, with sRGB's profile.
    a = convert_image(PRINT, tagged, out_dir / "0001.jpg").output
    b = convert_image(PRINT, plain, out_dir / "0002.jpg").output
    with Image.open(a) as pa, Image.open(b) as pb:
        assert ImageChops.difference(pa.convert("RGB"), pb.convert("RGB")).getbbox() is None
    assert embedded(a) == colour.SRGB_ICC
