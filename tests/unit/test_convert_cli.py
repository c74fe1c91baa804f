"""``labd convert`` and the product settings it reads, end to end through the CLI."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from labd.cli import main
from labd.config import load
from labd.convert import convert_batch, process_pool
from labd.errors import ConfigError
from labd.model import Layout, OutputFormat, RenderingIntent
from tests.imagegen import make_photo, make_truncated_jpeg, marker_corner, rgb_lut_profile

CONFIG = """
[labd]
state_dir = "state"
spool_dir = "spool"
quarantine_dir = "quarantine"
hotfolder_root = "hot"

[printers.p]
queue = "q"

[products.small]
format = "jpeg"
size = "60x40 mm"
dpi = 150
output_profile = "printer.icc"
rendering_intent = "relative"
black_point_compensation = false

[products.book]
format = "pdf"
layout = "photobook"
size = "60x40 mm"
dpi = 150

[hotfolders.h]
product = "small"
printer = "p"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "printer.icc").write_bytes(rgb_lut_profile("Lab printer", grid=5))
    path = tmp_path / "labd.toml"
    path.write_text(CONFIG)
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(config), "--log-level", "WARNING", "convert", *args], out=out)
    return code, out.getvalue()


def test_products_are_read(config: Path) -> None:
    products = load(config).products
    small, book = products["small"], products["book"]
    assert small.output_icc == (config.parent / "printer.icc").read_bytes()
    assert small.rendering_intent is RenderingIntent.RELATIVE
    assert small.black_point_compensation is False
    assert (small.format, small.layout) == (OutputFormat.JPEG, None)
    assert (book.format, book.layout, book.output_icc) == (OutputFormat.PDF, Layout.PHOTOBOOK, None)
    assert book.black_point_compensation is True


@pytest.mark.parametrize(
    ("edit", "key", "says"),
    [
        pytest.param(
            ('layout = "photobook"\n', ""), "products.book.layout", "missing", id="pdf-no-layout"
        ),
        pytest.param(
            ('format = "jpeg"\n', 'format = "jpeg"\nlayout = "photobook"\n'),
            "products.small.layout",
            "only PDF products",
            id="layout-on-jpeg",
        ),
        pytest.param(
            ('"printer.icc"', '"missing.icc"'),
            "products.small.output_profile",
            "cannot read",
            id="profile-missing",
        ),
        pytest.param(
            ('"printer.icc"', '"labd.toml"'),
            "products.small.output_profile",
            "not an ICC profile",
            id="profile-not-icc",
        ),
        pytest.param(
            ('"relative"', '"saturation"'),
            "products.small.rendering_intent",
            "not one of",
            id="intent",
        ),
        pytest.param(
            ("= false", '= "no"'),
            "products.small.black_point_compensation",
            "true or false",
            id="bpc-not-bool",
        ),
    ],
)
def test_bad_product_settings(config: Path, edit: tuple[str, str], key: str, says: str) -> None:
    config.write_text(CONFIG.replace(*edit, 1))
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert caught.value.key == key
    assert says in caught.value.problem


def test_convert_in_parallel_keeps_good_outputs_and_reports_bad_ones(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [
        make_photo(tmp_path / "a.jpg", (600, 400), marker="top-right"),
        make_truncated_jpeg(tmp_path / "b.jpg"),
        make_photo(tmp_path / "c.jpg", (600, 400), orientation=6),
    ]
    code, out = run(
        config, "--product", "small", "--jobs", "2", "--out", str(tmp_path / "o"), *map(str, inputs)
    )
    assert code == 6
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["0001.jpg", "0003.jpg"]
    assert f"0001.jpg  <-  {inputs[0]}" in out
    assert "labd: b.jpg: truncated or damaged image data" in capsys.readouterr().err
    with Image.open(tmp_path / "o" / "0001.jpg") as img:
        assert img.size == (354, 236)
        assert img.info["icc_profile"] == (config.parent / "printer.icc").read_bytes()
        assert marker_corner(img) == "top-right"
    with Image.open(tmp_path / "o" / "0003.jpg") as img:
        assert img.size == (236, 354)


def test_convert_photobook(tmp_path: Path, config: Path) -> None:
    inputs = [make_photo(tmp_path / f"{n}.jpg", (600, 400)) for n in (10, 2, 1)]
    code, out = run(config, "--product", "book", "--out", str(tmp_path / "o"), *map(str, inputs))
    assert code == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["book.pdf"]
    assert out.endswith(f"<-  {inputs[2]}, {inputs[1]}, {inputs[0]}\n")
    with pikepdf.open(tmp_path / "o" / "book.pdf") as pdf:
        assert len(pdf.pages) == 3


def test_unknown_product_lists_the_defined_ones(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(config, "--product", "poster", "--out", str(tmp_path / "o"), "x.jpg")
    assert code == 3
    assert "no product 'poster'; defined: book, small" in capsys.readouterr().err


def test_convert_as_its_own_process(tmp_path: Path, config: Path) -> None:
    """As a technician runs it: a fresh process, whose workers are forked warm from it."""
    inputs = [
        make_photo(tmp_path / f"{n}.jpg", (600, 400), marker="top-right") for n in range(3)
    ] + [make_truncated_jpeg(tmp_path / "bad.jpg")]
    done = subprocess.run(
        [sys.executable, "-m", "labd", "--config", str(config), "convert", "--product", "small",
         "--jobs", "2", "--out", str(tmp_path / "o"), *map(str, inputs)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 6, done.stderr
    assert "labd: bad.jpg: truncated or damaged image data" in done.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "0001.jpg",
        "0002.jpg",
        "0003.jpg",
    ]
    for n in range(3):
        assert f"{n + 1:04d}.jpg  <-  {inputs[n]}" in done.stdout
        with Image.open(tmp_path / "o" / f"{n + 1:04d}.jpg") as img:
            assert marker_corner(img) == "top-right"
    assert inputs[3].exists()  # reported, not lost
    # The forked workers print what spawned ones print, pixel for pixel (not byte for byte:
    # the sRGB profile each process builds carries its creation time).
    (tmp_path / "spawned").mkdir()
    with process_pool(2) as pool:
        spawned = convert_batch(
            load(config).products["small"], inputs[:3], tmp_path / "spawned", pool=pool
        )
    for converted in spawned.converted:
        forked = tmp_path / "o" / converted.output.name
        with Image.open(forked) as a, Image.open(converted.output) as b:
            assert a.tobytes() == b.tobytes()
