"""PDF products on real files: photobooks bound by img2pdf, pass-through PDFs checked by qpdf."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageCms

from labd.convert import (
    BOOK_NAME,
    RULE_DAMAGED_PDF,
    RULE_ENCRYPTED_PDF,
    RULE_NOT_A_PDF,
    RULE_NOT_AN_IMAGE,
    RULE_PAGE_SIZE,
    RULE_TRUNCATED,
    convert_batch,
    convert_job,
    natural_key,
)
from labd.model import Layout, OutputFormat, Product
from tests.factories import BOOK
from tests.imagegen import a4_pdf, make_photo, make_truncated_jpeg, marker_corner
from tests.refusals import refused_untouched

# An A5-ish book: 150x100 mm landscape pages at 150 dpi (886x591 px): small and quick.
PASS = Product(
    name="pass",
    format=OutputFormat.PDF,
    layout=Layout.PASSTHROUGH,
    width_mm=210,
    height_mm=297,
    dpi=300,
)
MM = 72 / 25.4


def page_jpegs(pdf: pikepdf.Pdf) -> list[bytes]:
    """The raw (still encoded) JPEG data of each page's one image."""
    found = []
    for page in pdf.pages:
        (image,) = page.Resources.XObject.values()
        assert image.Filter == pikepdf.Name.DCTDecode
        found.append(image.read_raw_bytes())
    return found


def test_natural_order() -> None:
    names = ["p10.jpg", "P2.jpg", "p1.jpg", "cover.jpg", "p2b.jpg"]
    assert sorted(names, key=natural_key) == ["cover.jpg", "p1.jpg", "P2.jpg", "p2b.jpg", "p10.jpg"]


def test_photobook_pages_sizes_order_and_embedded_jpegs(tmp_path: Path, out_dir: Path) -> None:
    # Given out of order; pages follow the names: 2 before 10.  Portrait and EXIF-turned
    # photos are filled into the book's landscape pages, not turned.
    corners = {"10.jpg": "top-right", "2.jpg": "bottom-left", "1.jpg": "top-left"}
    inputs = [
        make_photo(tmp_path / "10.jpg", (600, 400), marker="top-right"),
        make_photo(tmp_path / "2.jpg", (600, 400), orientation=6, marker="bottom-left"),
        make_photo(tmp_path / "1.jpg", (600, 400), exif_gps=True, marker="top-left"),
    ]
    (book,) = convert_job(BOOK, inputs, out_dir)
    assert book.output == out_dir / BOOK_NAME
    assert book.sources == (2, 1, 0)
    assert book.pages == 3
    assert [p.name for p in out_dir.iterdir()] == [BOOK_NAME]  # no page files left
    with pikepdf.open(book.output) as pdf:
        assert len(pdf.pages) == 3
        for page in pdf.pages:
            assert [float(v) for v in page.mediabox] == pytest.approx([0, 0, 150 * MM, 100 * MM])
        jpegs = page_jpegs(pdf)
    for data, name in zip(jpegs, ["1.jpg", "2.jpg", "10.jpg"], strict=True):
        # The page is the print-ready JPEG labd wrote, byte for byte: size, dpi, profile.
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG"
            assert img.size == (886, 591)
            assert img.info["dpi"] == pytest.approx((150, 150))
            icc = img.info["icc_profile"]
            assert "sRGB" in ImageCms.getProfileDescription(
                ImageCms.ImageCmsProfile(io.BytesIO(icc))
            )
            assert not img.getexif()
            if name != "2.jpg":  # a portrait filled into a landscape page loses its corners
                assert marker_corner(img) == corners[name]
    # Nothing of the customer's EXIF anywhere in the file: no EXIF block (its APP1 header),
    # no GPS position in XMP.  Not b"GPS" alone: the GPS IFD spells no such bytes, and three
    # bytes turn up in a book's random JPEG data now and then (2 % of runs).
    data = book.output.read_bytes()
    assert b"Exif\x00\x00" not in data
    assert b"GPSLatitude" not in data


def test_photobook_with_a_bad_page_is_not_bound(tmp_path: Path, out_dir: Path) -> None:
    inputs = [
        make_photo(tmp_path / "1.jpg"),
        make_truncated_jpeg(tmp_path / "2.jpg"),
        make_photo(tmp_path / "3.jpg"),
    ]
    with refused_untouched(out_dir, *inputs) as caught:
        convert_job(BOOK, inputs, out_dir)
    assert caught.value.rule == RULE_TRUNCATED
    assert "2.jpg: truncated" in caught.value.reason


def test_photobook_refuses_a_pdf_page(tmp_path: Path, out_dir: Path) -> None:
    inputs = [make_photo(tmp_path / "1.jpg"), a4_pdf(tmp_path / "2.pdf")]
    result = convert_batch(BOOK, inputs, out_dir)
    assert result.converted == []
    assert [(i, e.rule) for i, e in result.rejected] == [(1, RULE_NOT_AN_IMAGE)]
    assert list(out_dir.iterdir()) == []


def test_passthrough_pdf_is_copied_unchanged(tmp_path: Path, out_dir: Path) -> None:
    first = a4_pdf(tmp_path / "flyer.pdf", pages=2)
    # Landscape A4 (a /Rotate or a turned MediaBox) is A4 too.
    second = a4_pdf(tmp_path / "poster.pdf", pages=1, size_mm=(297, 210))
    converted = convert_job(PASS, [first, second], out_dir)
    assert [c.output.name for c in converted] == ["0001.pdf", "0002.pdf"]
    assert [c.sources for c in converted] == [(0,), (1,)]
    assert [c.pages for c in converted] == [2, 1]
    assert (out_dir / "0001.pdf").read_bytes() == first.read_bytes()
    assert (out_dir / "0002.pdf").read_bytes() == second.read_bytes()


def encrypted(path: Path) -> Path:
    pdf = pikepdf.open(a4_pdf(path.with_suffix(".plain")))
    # An owner password only: it opens without one, but carries restrictions.
    pdf.save(path, encryption=pikepdf.Encryption(owner="lab", user="", R=6))
    return path


def password(path: Path) -> Path:
    pdf = pikepdf.open(a4_pdf(path.with_suffix(".plain")))
    pdf.save(path, encryption=pikepdf.Encryption(owner="lab", user="secret", R=6))
    return path


def truncated_pdf(path: Path) -> Path:
    data = a4_pdf(path.with_suffix(".plain")).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def garbage_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nstream\x00\x01\n")
    return path


def wrong_size(path: Path) -> Path:
    return a4_pdf(path, pages=3, size_mm=(148, 210))


def mixed_size(path: Path) -> Path:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(210 * MM, 297 * MM))
    pdf.add_blank_page(page_size=(215.9 * MM, 279.4 * MM))  # US letter
    pdf.save(path)
    return path


def jpeg_named_pdf(path: Path) -> Path:
    return make_photo(path, image_format="JPEG")


def empty_pdf(path: Path) -> Path:
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    ("make", "rule", "says"),
    [
        pytest.param(encrypted, RULE_ENCRYPTED_PDF, "encrypted", id="encrypted-owner-password"),
        pytest.param(password, RULE_ENCRYPTED_PDF, "password", id="encrypted-user-password"),
        pytest.param(truncated_pdf, RULE_DAMAGED_PDF, "damaged PDF", id="truncated"),
        pytest.param(garbage_pdf, RULE_DAMAGED_PDF, "", id="malformed"),
        pytest.param(wrong_size, RULE_PAGE_SIZE, "page 1 is 148 x 210 mm", id="a5-for-a4"),
        pytest.param(mixed_size, RULE_PAGE_SIZE, "page 2 is 216 x 279 mm", id="letter-page"),
        pytest.param(jpeg_named_pdf, RULE_NOT_A_PDF, "not a PDF", id="jpeg-named-pdf"),
        pytest.param(empty_pdf, "input.empty", "empty", id="empty"),
    ],
)
def test_bad_pdf_is_refused_and_nothing_is_lost(
    tmp_path: Path, out_dir: Path, make, rule: str, says: str
) -> None:
    good = a4_pdf(tmp_path / "good.pdf")
    bad = make(tmp_path / "order.pdf")
    with refused_untouched(out_dir, good, bad) as caught:
        convert_job(PASS, [good, bad], out_dir)
    assert caught.value.rule == rule
    assert "order.pdf: " in caught.value.reason
    assert says in caught.value.reason
