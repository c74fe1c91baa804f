"""The command line: exit codes and messages people read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from labd.cli import main
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG as GOOD
from tests.factories import write_config as write


def test_check_config_ok_lists_the_hot_folders(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (tmp_path / "hot" / "prints").mkdir(parents=True)
    out = io.StringIO()
    assert main(["--config", str(path), "check-config"], out=out) == 0
    text = out.getvalue()
    assert f"{path}: OK (1 hot folders, 1 products, 1 printers)" in text
    assert "prints: " in text
    assert "-> queue minilab" in text


def test_check_config_error_exit_code_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("dpi = 300", "dpi = 7"))
    out = io.StringIO()
    assert main(["--config", str(path), "check-config"], out=out) == 3
    err = capsys.readouterr().err
    assert err == f"labd: {path}: products.p10x15.dpi: 7 is out of range; expected 72 to 2400\n"
    assert out.getvalue() == ""
    assert path.read_text() == GOOD.replace("dpi = 300", "dpi = 7")  # the file is untouched


def test_jobs_without_a_journal_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    assert main(["--config", str(path), "jobs"], out=io.StringIO()) == 4
    assert "does not exist; has labd run with this configuration?" in capsys.readouterr().err
    assert not (tmp_path / "state" / "journal.sqlite").exists()  # reading never creates it


def test_status_lists_overdue_and_unlinked_media(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from labd.clock import ManualClock  # noqa: PLC0415
    from labd.config import load  # noqa: PLC0415
    from labd.media.ledger import MediaLedger  # noqa: PLC0415
    from labd.media.model import MediaKind  # noqa: PLC0415

    path = write(tmp_path, GOOD)
    (tmp_path / "hot" / "prints").mkdir(parents=True, mode=0o770)
    config = load(path)
    month_ago = ManualClock(datetime.now(UTC) - timedelta(days=30))
    journal = open_journal(config.journal_path, month_ago)
    media = MediaLedger(journal, config.media)
    stick = media.register(MediaKind.USB, "SN-1", by="anna", orders=["2026-1"])
    media.ready(stick.id, by="anna")
    fresh = media.register(MediaKind.DVD, "T-2", by="anna", orders=["2026-2"])
    journal.close()
    out = io.StringIO()
    assert main(["--config", str(path), "status"], out=out) == 0
    text = out.getvalue()
    assert f"media overdue: item {stick.id} (usb, return)" in text
    assert f"item {fresh.id} " not in text  # received a month ago, but not ready: not overdue
    assert "prints: " in text
