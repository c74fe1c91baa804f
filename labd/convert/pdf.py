"""PDF products: print-ready JPEGs bound into a photobook, and incoming PDFs checked.

img2pdf and pikepdf live here.  A photobook embeds each page's JPEG bytes as they are (no
second encoding, the ICC profile kept); a pass-through PDF is opened with qpdf (pikepdf),
and refused unless it is intact, unencrypted and every page has the product's size.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import structlog

from labd.errors import InputRejected
from labd.fsutil import atomic_write
from labd.model import MM_PER_INCH, Product
from labd.names import natural_key

if TYPE_CHECKING:
    import pikepdf

# img2pdf and pikepdf are imported where they are used: they add about 6 MB to a process,
# which a conversion worker that only ever makes JPEGs need not carry.

log = structlog.get_logger(__name__)

RULE_NOT_A_PDF: Final = "input.not_a_pdf"
RULE_DAMAGED_PDF: Final = "input.damaged_pdf"
RULE_ENCRYPTED_PDF: Final = "input.encrypted_pdf"
RULE_PAGE_SIZE: Final = "input.page_size"

POINTS_PER_INCH: Final = 72.0
# How far a page may differ from the product's size: PDF writers round to whole points or
# to 1/100 mm, and a lab cuts to about 1 mm anyway.
PAGE_TOLERANCE_MM: Final = 1.0


def page_order(names: Sequence[str]) -> list[int]:
    """Indices of ``names`` in natural filename order (ties keep the given order)."""
    return sorted(range(len(names)), key=lambda i: natural_key(names[i]))


def page_size_points(product: Product) -> tuple[float, float]:
    """The product's page size in PDF points, as configured (width, height)."""
    return (
        product.width_mm / MM_PER_INCH * POINTS_PER_INCH,
        product.height_mm / MM_PER_INCH * POINTS_PER_INCH,
    )


def bind_photobook(product: Product, pages: Sequence[Path], out: Path) -> None:
    """Write ``pages`` (print-ready JPEGs, in page order) as one PDF to ``out`` (atomically).

    Each page's MediaBox is the product's size; the JPEG data is embedded unchanged.
    """
    import img2pdf  # noqa: PLC0415  (see the imports)

    started = time.perf_counter()
    layout = img2pdf.get_layout_fun(
        pagesize=page_size_points(product), fit=img2pdf.FitMode.into, auto_orient=False
    )
    # img2pdf reads the files itself; only its output passes through labd's memory.
    data = img2pdf.convert(
        [str(p) for p in pages],
        layout_fun=layout,
        nodate=True,  # no creation time: the same pages make the same file
        engine=img2pdf.Engine.internal,
    )
    with atomic_write(out) as f:
        f.write(data)
    log.debug(
        "convert.book_bound", pages=len(pages), seconds=round(time.perf_counter() - started, 3)
    )


def check_pdf(product: Product, src: Path) -> int:
    """Check a print-ready PDF for ``product``; return its page count or raise InputRejected.

    Refused: not a PDF, damaged (qpdf had to repair it, or cannot read it), encrypted (even
    with an empty password: CUPS' filters may honour its restrictions or fail), no pages,
    a page whose size (MediaBox, turned by /Rotate) is not the product's in either
    orientation.  I/O failures propagate as OSError.
    """
    import pikepdf  # noqa: PLC0415  (see the imports)

    with src.open("rb") as f:
        head = f.read(1024)
    if not head:
        raise InputRejected(f"{src.name}: empty file (0 bytes), copy it again", rule="input.empty")
    if b"%PDF-" not in head:
        raise InputRejected(
            f"{src.name}: not a PDF document; this product prints PDFs only", rule=RULE_NOT_A_PDF
        )
    try:
        with pikepdf.open(src) as pdf:
            if pdf.is_encrypted:
                raise _encrypted(src)
            pages = _check_pages(product, src, pdf)
            # Warnings mean qpdf repaired the file as it read it: what CUPS' filters would
            # make of it is anybody's guess.
            if pdf.check_pdf_syntax() or pdf.get_warnings():
                raise _damaged(src)
    except pikepdf.PasswordError as e:
        raise _encrypted(src) from e
    except pikepdf.PdfError as e:
        raise _damaged(src) from e
    return pages


def _check_pages(product: Product, src: Path, pdf: pikepdf.Pdf) -> int:
    if not pdf.pages:
        raise InputRejected(f"{src.name}: the PDF has no pages", rule=RULE_DAMAGED_PDF)
    want = sorted(page_size_points(product))
    tolerance = PAGE_TOLERANCE_MM / MM_PER_INCH * POINTS_PER_INCH
    for number, page in enumerate(pdf.pages, 1):
        box = page.mediabox
        x0, y0, x1, y1 = (float(v) for v in box)
        size = sorted((abs(x1 - x0), abs(y1 - y0)))  # /Rotate turns the page; either way is fine
        if any(abs(a - b) > tolerance for a, b in zip(size, want, strict=True)):
            raise InputRejected(
                f"{src.name}: page {number} is {_mm(size[0])} x {_mm(size[1])} mm, "
                f"the product {product.name} prints {_mm(want[0])} x {_mm(want[1])} mm",
                rule=RULE_PAGE_SIZE,
            )
    return len(pdf.pages)


def copy_pdf(src: Path, out: Path) -> None:
    """Put a checked PDF in place as it is (atomically)."""
    with src.open("rb") as f, atomic_write(out) as g:
        shutil.copyfileobj(f, g, 1024 * 1024)


def _mm(points: float) -> str:
    return f"{points / POINTS_PER_INCH * MM_PER_INCH:.0f}"


def _encrypted(src: Path) -> InputRejected:
    return InputRejected(
        f"{src.name}: the PDF is encrypted or password-protected, export it without protection",
        rule=RULE_ENCRYPTED_PDF,
    )


def _damaged(src: Path) -> InputRejected:
    return InputRejected(
        f"{src.name}: damaged PDF (it needs repair to be read), export it again",
        rule=RULE_DAMAGED_PDF,
    )
