"""Fixtures the unit tests share: an injected clock, a journal on a real SQLite file and in a
real PostgreSQL database (every test that takes ``journal`` runs on both), and an empty
output folder for conversions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.journal import Journal
from labd.schemas import open_journal
from labd.store import StoreLocation


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal(store_location: StoreLocation, clock: ManualClock) -> Iterator[Journal]:
    """A journal on each backend (the ``store_location`` fixture's parameters)."""
    j = open_journal(store_location, clock)
    yield j
    j.close()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder
