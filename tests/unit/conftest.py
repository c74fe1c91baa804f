"""Fixtures the unit tests share: an injected clock, a journal on a real SQLite file, and an
empty output folder for conversions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.journal import Journal
from labd.schemas import open_journal


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal(tmp_path: Path, clock: ManualClock) -> Iterator[Journal]:
    j = open_journal(tmp_path / "state" / "journal.sqlite", clock)
    yield j
    j.close()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder
