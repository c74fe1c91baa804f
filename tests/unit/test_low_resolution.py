"""A photo too small for its print: the effective resolution, min_ppi and its policy.

Real photos (tests.imagegen), the real conversion, the configuration as an administrator
writes it, and ``labd convert`` and ``labd check-config`` as people run them.  The
daemon's side (warn, hold, quarantine of a job) is tests/integration/test_low_resolution.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.config import load
from labd.convert import RULE_LOW_RESOLUTION, convert_image, convert_job, effective_ppi
from labd.errors import ConfigError, InputRejected
from labd.model import (
    Fit,
    JobKind,
    JobState,
    LowResolution,
    OutputFormat,
    Product,
    default_min_ppi,
)
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.schemas import open_journal
from labd.spool import inbox
from tests.factories import GOOD_CONFIG, job_in_state, write_config
from tests.imagegen import a4_pdf, make_photo

# The trade's 10x15 cm print: 6x4 in, 1800x1200 pixels at 300 dpi.
PRINT_10X15 = Product(name="p10x15", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6,
                      dpi=300)  # fmt: skip


@pytest.mark.parametrize(
    ("size", "fit", "border_mm", "ppi"),
    [
        # The photo of the issue: 640 pixels across 6 inches.
        pytest.param((640, 480), Fit.FILL, 0.0, 107, id="fill-640x480"),
        pytest.param((480, 640), Fit.FILL, 0.0, 107, id="fill-portrait"),
        # Fill crops a third of a square photo away: 1200 pixels across the 6 in remain.
        pytest.param((1200, 1200), Fit.FILL, 0.0, 200, id="fill-square-cropped"),
        # Fit shows the whole photo: its long side spans the print's long side.
        pytest.param((640, 480), Fit.FIT, 0.0, 120, id="fit-640x480"),
        # A 5 mm border leaves 5.61 x 3.61 in for the picture.
        pytest.param((1683, 1083), Fit.FILL, 5.0, 300, id="fill-inside-border"),
        # Pixel for pixel: the product's dpi, whatever the size.
        pytest.param((640, 480), Fit.NONE, 0.0, 300, id="none"),
    ],
)
def test_effective_ppi_counts_the_pixels_that_reach_the_print(
    size: tuple[int, int], fit: Fit, border_mm: float, ppi: int
) -> None:
    product = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6,
                      dpi=300, fit=fit, border_mm=border_mm)  # fmt: skip
    assert effective_ppi(product, size) == ppi


def test_the_conversion_reports_the_effective_ppi_of_each_file(tmp_path: Path) -> None:
    small = make_photo(tmp_path / "small.jpg", (640, 480))
    big = make_photo(tmp_path / "big.jpg", (3000, 2000))
    assert convert_image(PRINT_10X15, small, tmp_path / "0001.jpg").ppi == (107,)
    assert convert_image(PRINT_10X15, big, tmp_path / "0002.jpg").ppi == (500,)


def test_quarantine_policy_refuses_the_job_and_names_the_file_and_its_ppi(
    tmp_path: Path,
) -> None:
    strict = Product(name="p10x15", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6,
                     dpi=300, low_resolution=LowResolution.QUARANTINE)  # fmt: skip
    inputs = [make_photo(tmp_path / "IMG_1.jpg", (3000, 2000)),
              make_photo(tmp_path / "IMG_2.jpg", (640, 480))]  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(InputRejected) as refused:
        convert_job(strict, inputs, out)
    assert refused.value.rule == RULE_LOW_RESOLUTION
    assert refused.value.reason == (
        "1 of 2 files cannot be printed: IMG_2.jpg: 107 ppi on the print, below the 150 ppi "
        "product p10x15 asks for (a larger original, or a smaller print)"
    )
    assert list(out.iterdir()) == []  # all or nothing: the good file's output is gone too
    assert all(p.is_file() for p in inputs)  # the inputs are untouched


CONVERT_CONFIG = (
    GOOD_CONFIG
    + """
[products.strict]
format = "jpeg"
size = "6x4 in"
min_ppi = 200
low_resolution = "hold"
"""
)


def run_convert(tmp_path: Path, product: str, photo: Path) -> tuple[int, str]:
    config = write_config(tmp_path, CONVERT_CONFIG)
    out = io.StringIO()
    args = ["--config", str(config), "--log-level", "WARNING", "convert", "--product", product,
            "--jobs", "1", "--out", str(tmp_path / "out"), str(photo)]  # fmt: skip
    return main(args, out=out), out.getvalue()


def test_labd_convert_warns_about_a_small_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photo(tmp_path / "IMG_0042.jpg", (640, 480))
    code, out = run_convert(tmp_path, "p10x15", photo)
    assert code == 0  # warn: made, as the daemon would print it
    assert out == f"{tmp_path / 'out' / '0001.jpg'}  <-  {photo}\n"
    assert capsys.readouterr().err == (
        f"labd: warning: {photo}: 107 ppi on the print, below the 150 ppi product p10x15 "
        "asks for (a larger original, or a smaller print); the daemon prints it and "
        "journals a warning\n"
    )
    # A product that holds, with its own minimum.
    code, _ = run_convert(tmp_path, "strict", make_photo(tmp_path / "b.jpg", (1080, 720)))
    assert code == 0
    err = capsys.readouterr().err
    assert "b.jpg: 180 ppi on the print, below the 200 ppi product strict asks for" in err
    assert err.endswith("the daemon holds its job for a technician (labd retry or cancel)\n")


def test_labd_convert_says_nothing_of_a_big_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_convert(tmp_path, "p10x15", make_photo(tmp_path / "big.jpg", (2400, 1600)))
    assert code == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("size", "ppi"),
    [
        pytest.param("6x4 in", 150, id="10x15"),
        pytest.param("210x150 mm", 150, id="15x21"),
        pytest.param("30x20 cm", 100, id="20x30"),
        pytest.param("45x30 cm", 100, id="30x45"),
        pytest.param("70x50 cm", 72, id="50x70"),
    ],
)
def test_the_default_min_ppi_follows_the_print_size(tmp_path: Path, size: str, ppi: int) -> None:
    config = load(write_config(tmp_path, GOOD_CONFIG.replace('"6x4 in"', f'"{size}"')))
    product = config.products["p10x15"]
    assert product.min_ppi is None
    assert product.required_ppi == ppi == default_min_ppi(product.width_mm, product.height_mm)
    assert product.low_resolution is LowResolution.WARN


def test_min_ppi_and_the_policy_are_read(tmp_path: Path) -> None:
    text = GOOD_CONFIG.replace("dpi = 300", 'dpi = 300\nmin_ppi = 0\nlow_resolution = "quarantine"')
    product = load(write_config(tmp_path, text)).products["p10x15"]
    assert (product.required_ppi, product.low_resolution) == (0, LowResolution.QUARANTINE)


@pytest.mark.parametrize(
    ("setting", "key", "problem"),
    [
        pytest.param(
            "min_ppi = -1", "min_ppi", "-1 is out of range; expected 0 to 2400", id="negative"
        ),
        pytest.param(
            'min_ppi = "150"', "min_ppi", "expected a whole number, got str '150'", id="string"
        ),
        pytest.param("min_ppi = 150.5", "min_ppi", "expected a whole number", id="fraction"),
        pytest.param(
            'low_resolution = "ignore"',
            "low_resolution",
            "'ignore' is not one of: warn, hold, quarantine",
            id="policy",
        ),
    ],
)
def test_bad_values_are_refused_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, key: str, problem: str
) -> None:
    text = GOOD_CONFIG.replace("dpi = 300", f"dpi = 300\n{setting}")
    path = write_config(tmp_path, text)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["--config", str(path), "check-config"], out=io.StringIO()) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"labd: {path}: products.p10x15.{key}: {problem}")
    assert path.read_text() == text  # the file as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing made


def test_a_passthrough_pdf_takes_no_min_ppi(tmp_path: Path) -> None:
    text = (
        GOOD_CONFIG
        + '\n[products.flyer]\nformat = "pdf"\nlayout = "passthrough"\n'
        + ('size = "210x297 mm"\nmin_ppi = 150\n')
    )
    with pytest.raises(ConfigError) as refused:
        load(write_config(tmp_path, text))
    assert refused.value.key == "products.flyer.min_ppi"
    assert "printed as it is" in refused.value.problem


def test_a_passthrough_pdf_is_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = GOOD_CONFIG + (
        '\n[products.flyer]\nformat = "pdf"\nlayout = "passthrough"\nsize = "210x297 mm"\n'
        '\n[hotfolders.flyers]\nproduct = "flyer"\nprinter = "minilab"\n'
    )
    path = write_config(tmp_path, text)
    config = load(path)
    pdf = a4_pdf(tmp_path / "flyer.pdf")
    out = io.StringIO()
    args = ["--config", str(path), "convert", "--product", "flyer", "--jobs", "1",
            "--out", str(tmp_path / "out"), str(pdf)]  # fmt: skip
    assert main(args, out=out) == 0
    assert "warning" not in capsys.readouterr().err
    # The daemon's conversion: converted, no resolution to show.
    with open_journal(config.journal_path, ManualClock()) as journal:
        job = job_in_state(
            journal, JobState.CLAIMED, config.spool_dir, entry="flyer.pdf", hotfolder="flyers",
            kind=JobKind.FILE, files=[("flyer.pdf", 1)],
        )  # fmt: skip
        inbox(job).mkdir(parents=True)
        a4_pdf(inbox(job) / "flyer.pdf")
        pipeline = Pipeline(config=config, journal=journal, cups=CupsClient(None),
                            clock=journal.clock)  # fmt: skip
        assert pipeline.convert(job)
        assert journal.job(job.id).state is JobState.CONVERTED
        assert journal.notes.resolution(job.id) is None
