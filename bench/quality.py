"""Conversion quality: labd's print before saving against a full-size, exact reference.

    .venv/bin/python bench/quality.py [--grain 4] [--products prints-10x15,prints-13x18]
                                      [--verbose]

Makes 24 MP camera-like JPEGs (as bench/convert.py: two sRGB, two with an Adobe RGB-like
profile, one of each EXIF-turned) and, for each sRGB product of config/labd.toml, compares
the picture labd would save (labd.convert.image.render_image: decoded at M/8, Lanczos-3,
colour skipped where it changes nothing) with a reference made the slow, exact way: the
whole photo decoded by Pillow, turned upright, cropped to the print's aspect ratio and
resampled with Pillow's LANCZOS in one step from full size, then converted with
LittleCMS from its embedded profile to sRGB (perceptual, no lookup table, nothing
skipped).  Prints PSNR (dB, higher is closer) and the mean and 99th percentile CIEDE2000
colour difference (1 is about what a trained eye can just see side by side) per photo,
and, for comparison, the PSNR of the route decoding at 1/2 (the smallest scale libvips'
and Pillow's loaders offer here; then LANCZOS and exact LittleCMS).  The README's quality
figures come from this command.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageCms, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchargs

from labd.config import load  # after the path set-up above
from labd.convert.image import render_image
from labd.model import Fit, Product
from tests.imagegen import (
    CAMERA_GRAIN,
    adobe_rgb_like_profile,
    camera_jpegs,
    camera_srgb_profile,
)

ROOT = Path(__file__).resolve().parent.parent
Array = npt.NDArray[np.float64]


def reference(product: Product, src: Path, *, draft: int = 1) -> Image.Image:
    """The print of a fill product without border, made from the photo decoded at 1/``draft``
    (1: full size) with exact colour."""
    with Image.open(src) as img:
        icc = img.info.get("icc_profile")
        if draft > 1:
            img.draft("RGB", (img.width // draft, img.height // draft))
        upright = ImageOps.exif_transpose(img.convert("RGB") if img.mode != "RGB" else img)
    w, h = upright.size
    tw, th = product.pixel_size(landscape=w >= h)
    scale = max(tw / w, th / h)
    cw, ch = tw / scale, th / scale
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    printed = upright.resize((tw, th), Image.Resampling.LANCZOS, box=box)
    if icc:
        exact = ImageCms.profileToProfile(
            printed,
            ImageCms.ImageCmsProfile(io.BytesIO(icc)),
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
        assert exact is not None  # None only in place
        printed = exact
    return printed


def psnr(a: Array, b: Array) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255**2 / mse))


def srgb_to_lab(rgb: Array) -> Array:
    """sRGB code values (0-255, float) to CIE L*a*b* (D65), by the sRGB and CIE formulas."""
    c = rgb / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
         [0.0193339, 0.1191920, 0.9503041]]
    )  # fmt: skip
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def ciede2000(lab1: Array, lab2: Array) -> Array:
    """CIEDE2000 colour difference of two arrays of L*a*b* colours (kL = kC = kH = 1)."""
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    d_hue = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(
        c1p * c2p == 0,
        h_sum,
        np.where(
            np.abs(h1p - h2p) <= 180,
            h_sum / 2,
            np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_c = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    r_t = -np.sin(np.radians(2 * 30 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * r_c
    terms = (dl / s_l, dc / s_c, d_hue / s_h)
    squared: Array = terms[0] ** 2 + terms[1] ** 2 + terms[2] ** 2 + r_t * terms[1] * terms[2]
    return np.sqrt(squared)


def _pixels(img: Image.Image) -> Array:
    return np.asarray(img.convert("RGB"), dtype=np.float64)


def main() -> None:
    parser = benchargs.parser(
        __doc__, epilog="The module's docstring (bench/quality.py) says how the reference is made."
    )
    parser.add_argument(
        "--grain", type=int, default=CAMERA_GRAIN, help="grain of the photos (more: bigger files)"
    )
    parser.add_argument(
        "--products", default="prints-10x15,prints-13x18", help="sRGB fill products, no border"
    )
    args = benchargs.parse(parser)
    products = load(ROOT / "config" / "labd.toml").products
    with tempfile.TemporaryDirectory(prefix="labd-quality-") as tmp:
        photos = camera_jpegs(
            Path(tmp), 4, args.grain, profiles=(adobe_rgb_like_profile(), camera_srgb_profile())
        )
        kinds = ["Adobe RGB", "Adobe RGB, turned", "sRGB", "sRGB, turned"]
        print("labd's print before saving against full decode + LANCZOS + exact LittleCMS")
        print(
            f"   {'product':16} {'photo':18} {'PSNR dB':>8} {'mean dE00':>9} {'p99 dE00':>8}"
            f" {'1/2 route PSNR':>14}"
        )
        for name in args.products.split(","):
            product = products[name]
            if product.fit is not Fit.FILL or product.border_mm or product.output_icc:
                sys.exit(f"{name}: the reference is made for sRGB fill products without border")
            seen: list[tuple[float, float, float]] = []
            for kind, photo in zip(kinds, photos, strict=True):
                ours = _pixels(render_image(product, photo)[0])
                ref = _pixels(reference(product, photo))
                half = psnr(_pixels(reference(product, photo, draft=2)), ref)
                diff = ciede2000(srgb_to_lab(ours), srgb_to_lab(ref))
                seen.append((psnr(ours, ref), float(diff.mean()), half))
                print(
                    f"   {name:16} {kind:18} {seen[-1][0]:8.2f} {seen[-1][1]:9.3f} "
                    f"{float(np.percentile(diff, 99)):8.3f} {half:14.2f}"
                )
            print(
                f"   {name:16} {'median':18} {statistics.median(p for p, _, _ in seen):8.2f} "
                f"{statistics.median(d for _, d, _ in seen):9.3f} {'':8} "
                f"{statistics.median(h for _, _, h in seen):14.2f}"
            )


if __name__ == "__main__":
    main()
