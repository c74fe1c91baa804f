"""Fixtures the unit tests share: an injected clock and a journal on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.journal import Journal


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal(tmp_path: Path, clock: ManualClock) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "state" / "journal.sqlite", clock)
    yield j
    j.close()
