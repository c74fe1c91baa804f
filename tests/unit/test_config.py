"""Configuration: the shipped example loads; every mistake names file, key and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from labd.config import DEFAULT_IGNORE, check_paths, load
from labd.errors import ConfigError
from labd.model import Fit, OutputFormat
from tests.factories import GOOD_CONFIG as GOOD
from tests.factories import write_config as write

REPO = Path(__file__).resolve().parents[2]


def test_shipped_example_loads() -> None:
    config = load(REPO / "config" / "labd.toml")
    assert set(config.hotfolders) == {
        "prints-10x15",
        "prints-13x18",
        "enlargements-20x30",
        "photobooks-a4",
        "pdf-a4",
    }
    # The demo runs on this file: a newcomer can try every product it defines.
    assert {hf.product for hf in config.hotfolders.values()} == set(config.products)
    product = config.products["prints-10x15"]
    assert product.pixel_size(landscape=True) == (1800, 1200)
    assert product.pixel_size(landscape=False) == (1200, 1800)
    assert config.hotfolders["enlargements-20x30"].stability_seconds == 10
    assert config.hotfolders["prints-10x15"].stability_seconds == 5


def test_good_config_values(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    hf = config.hotfolders["prints"]
    assert hf.path == tmp_path / "hot" / "prints"  # relative to the file, not the cwd
    assert hf.stability_seconds == 2
    assert hf.ignore == DEFAULT_IGNORE
    assert config.state_dir == tmp_path / "state"
    assert config.printers["minilab"].options == {"media": "4x6", "copies-default": "1"}
    product = config.products["p10x15"]
    assert (product.format, product.fit, product.dpi) == (OutputFormat.JPEG, Fit.FILL, 300)
    assert config.cups_server is None


def test_rebased_moves_every_path(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD)).rebased(tmp_path / "demo")
    assert config.state_dir == tmp_path / "demo" / "state"
    assert config.spool_dir == tmp_path / "demo" / "spool"
    assert config.quarantine_dir == tmp_path / "demo" / "quarantine"
    assert config.hotfolders["prints"].path == tmp_path / "demo" / "hot" / "prints"


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        pytest.param(
            "dpi = 300",
            "dpi = 300\ndpii = 3",
            "products.p10x15.dpii",
            "unknown setting",
            id="unknown-key",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = "300"',
            "products.p10x15.dpi",
            "expected a whole number, got str '300'",
            id="wrong-type",
        ),
        pytest.param(
            "dpi = 300",
            "dpi = 5",
            "products.p10x15.dpi",
            "5 is out of range; expected 72 to 2400",
            id="out-of-range",
        ),
        pytest.param(
            'size = "6x4 in"',
            'size = "6 by 4"',
            "products.p10x15.size",
            "is not a print size",
            id="bad-size",
        ),
        pytest.param(
            'format = "jpeg"',
            'format = "gif"',
            "products.p10x15.format",
            "'gif' is not one of: jpeg",
            id="bad-format",
        ),
        pytest.param(
            'product = "p10x15"',
            'product = "p13x18"',
            "hotfolders.prints.product",
            "no product 'p13x18'; defined: p10x15",
            id="unknown-product",
        ),
        pytest.param(
            'printer = "minilab"',
            'printer = "frontier"',
            "hotfolders.prints.printer",
            "no printer 'frontier'; defined: minilab",
            id="unknown-printer",
        ),
        pytest.param(
            'queue = "minilab"\n',
            "",
            "printers.minilab.queue",
            "missing; this setting is required",
            id="missing-queue",
        ),
        pytest.param(
            "stability_seconds = 2",
            "stability_seconds = true",
            "labd.stability_seconds",
            "expected a number, got True",
            id="bool-for-number",
        ),
        pytest.param(
            "[hotfolders.prints]",
            '[hotfolders."bad name/x"]',
            "hotfolders.bad name/x",
            "names may use letters",
            id="bad-name",
        ),
        pytest.param(
            'quarantine_dir = "quarantine"\n',
            "",
            "labd.quarantine_dir",
            "missing",
            id="missing-path",
        ),
        pytest.param(
            'options = { media = "4x6", copies-default = 1 }',
            'options = { media = ["a"] }',
            "printers.minilab.options.media",
            "CUPS options are strings or whole numbers",
            id="bad-option",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = 300\nfit = "nothing"',
            "products.p10x15.fit",
            "'nothing' is not one of: fill, fit, none",
            id="bad-fit",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = 300\nborder = "-5 mm"',
            "products.p10x15.border",
            "'-5 mm' is negative; a border is 0 or more",
            id="negative-border",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = 300\nborder = "5 px"',
            "products.p10x15.border",
            "'5 px' has unknown unit 'px'; use mm, cm, in",
            id="border-unknown-unit",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = 300\nborder = "5"',
            "products.p10x15.border",
            "'5' has no unit; use mm, cm, in",
            id="border-without-unit",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = 300\nborder = "five mm"',
            "products.p10x15.border",
            'is not a length like "5 mm"',
            id="border-not-a-length",
        ),
        pytest.param(
            "dpi = 300",
            "dpi = 300\nborder = 5",
            "products.p10x15.border",
            "expected a string, got int 5",
            id="border-without-quotes",
        ),
        pytest.param(
            "dpi = 300",
            'dpi = 300\nborder = "2 in"',  # 6x4 in: 2 in on each side leaves 2x0 in
            "products.p10x15.border",
            "'2 in' on every side leaves no room for the picture: the print is 101.6 mm on "
            "its short side, so a border must be under 50.8 mm",
            id="border-leaves-no-picture",
        ),
    ],
)
def test_config_errors_name_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load(path)
    error = info.value
    assert error.file == str(path)
    assert error.key == key
    assert message in error.problem
    assert str(error) == f"{path}: {key}: {error.problem}"


def test_no_hotfolders(tmp_path: Path) -> None:
    text = GOOD[: GOOD.index("[hotfolders.prints]")]
    with pytest.raises(ConfigError, match="no hot folders are configured"):
        load(write(tmp_path, text))


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 3"):
        load(write(tmp_path, GOOD.replace('spool_dir = "spool"', 'spool_dir = "spool')))


def test_a_file_that_is_not_utf8_is_refused_clearly_and_left_as_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("spool", "sp\u00f6ol"))
    latin1 = path.read_text().encode("latin-1")  # as an old Windows editor saves it
    path.write_bytes(latin1)
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte \d+: .*\); save it as UTF-8"):
        load(path)
    assert path.read_bytes() == latin1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the file does not exist"):
        load(tmp_path / "nope.toml")


def test_missing_hotfolder_folder_stops_start(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as info:
        check_paths(config)
    assert info.value.key == "hotfolders.prints.path"
    assert "does not exist; create it or fix the path" in info.value.problem
    (tmp_path / "hot" / "prints").mkdir(parents=True)
    check_paths(config)  # now it passes


def test_hotfolder_that_is_a_file(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    (tmp_path / "hot").mkdir()
    (tmp_path / "hot" / "prints").write_text("not a folder")
    with pytest.raises(ConfigError, match="is not a folder"):
        check_paths(config)


def test_product_cups_options_and_subsampling(tmp_path: Path) -> None:
    text = GOOD.replace(
        "dpi = 300",
        'dpi = 300\njpeg_subsampling = "4:4:4"\noptions = { media-type = "photographic-glossy" }',
    )
    product = load(write(tmp_path, text)).products["p10x15"]
    assert product.jpeg_subsampling == "4:4:4"
    assert dict(product.options) == {"media-type": "photographic-glossy"}
    bad = GOOD.replace("dpi = 300", 'dpi = 300\njpeg_subsampling = "4:1:1"')
    with pytest.raises(ConfigError, match="'4:1:1' is not one of: 4:2:0, 4:2:2, 4:4:4"):
        load(write(tmp_path, bad))


def test_product_border_and_fit_none(tmp_path: Path) -> None:
    text = GOOD.replace("dpi = 300", 'dpi = 300\nfit = "none"\nborder = "5 mm"')
    product = load(write(tmp_path, text)).products["p10x15"]
    assert (product.fit, product.border_mm, product.border_pixels) == (Fit.NONE, 5.0, 59)
    for border, mm in (("0.5 cm", 5.0), ("0.25in", 6.35), ("0 mm", 0.0), (" 1.5 mm ", 1.5)):
        text = GOOD.replace("dpi = 300", f'dpi = 300\nborder = "{border}"')
        assert load(write(tmp_path, text)).products["p10x15"].border_mm == pytest.approx(mm)
    assert load(write(tmp_path, GOOD)).products["p10x15"].border_mm == 0.0  # no border


def test_shipped_enlargement_has_a_white_border() -> None:
    product = load(REPO / "config" / "labd.toml").products["enlargement-20x30"]
    assert (product.fit, product.border_mm, product.border_colour) == (
        Fit.FIT,
        5.0,
        (255, 255, 255),
    )


def test_passthrough_pdf_takes_no_border(tmp_path: Path) -> None:
    text = GOOD.replace(
        'format = "jpeg"', 'format = "pdf"\nlayout = "passthrough"\nborder = "5 mm"'
    )
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    assert info.value.key == "products.p10x15.border"
    assert "printed as it is, without a border" in info.value.problem
