"""The journal a benchmark runs labd on: the SQLite file, or a PostgreSQL database.

labd keeps its journal in a SQLite file (one print server) or in PostgreSQL (several, issue
15); a bench that measures the journal's cost says which one it ran on, with the settings
that decide what a commit costs.  With ``--store postgres`` the bench starts a server of
its own (tests/pgserver.py) with fsync on by default: the tests' server runs without,
and a commit that skips its flush says nothing about a lab's server.  ``--url`` names an
existing database instead.  Each run gets a fresh schema there, dropped at the end, so a
bench never writes into a journal it did not make.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labd.store import PostgresLocation, StoreLocation  # after the path set-up above
from tests.pgserver import running_server

STORES: Final = ("sqlite", "postgres")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--url`` and ``--fsync``: which PostgreSQL server a bench's ``postgres`` store is."""
    parser.add_argument(
        "--url",
        help="an existing PostgreSQL database (postgresql://..., the password from PGPASSWORD "
        "or ~/.pgpass), each run in a schema of its own there, dropped at the end; "
        "none: the bench starts a server in a temporary folder",
    )
    parser.add_argument(
        "--fsync",
        choices=("on", "off"),
        default="on",
        help="fsync of the server the bench starts (the tests' server runs with off)",
    )


class JournalStore:
    """Where a bench's journals go: a fresh location per run, on one backend."""

    def __init__(self, kind: str, url: str | None, settings: str) -> None:
        self.kind = kind
        self.settings = settings  # what decides a commit's cost, for the bench's output
        self._url = url
        self._schemas: list[str] = []
        self._numbers = itertools.count(1)

    def location(self, state_dir: Path) -> StoreLocation:
        """A new, empty journal: ``state_dir``'s SQLite file, or a new schema."""
        if self._url is None:
            state_dir.mkdir(parents=True, exist_ok=True)
            return state_dir / "journal.sqlite"
        schema = f"labd_bench_{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        self._schemas.append(schema)
        joint = "&" if "?" in self._url else "?"
        return PostgresLocation(f"{self._url}{joint}options=-csearch_path%3D{schema}")

    def drop(self) -> None:
        """Drop the schemas this bench made."""
        if self._url is None or not self._schemas:
            return
        with psycopg.connect(self._url, autocommit=True) as conn:
            for schema in self._schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        self._schemas.clear()


def _server_settings(url: str, where: str) -> str:
    """The server's version and the settings that decide what a commit costs."""
    with psycopg.connect(url, autocommit=True) as conn:

        def show(name: str) -> str:
            row = conn.execute(f"SHOW {name}").fetchone()
            return str(row[0]) if row else "?"

        shown = [f"{n}={show(n)}" for n in ("fsync", "full_page_writes", "synchronous_commit")]
        version = show("server_version").split()[0]
    return f"PostgreSQL {version} ({where}), {', '.join(shown)}"


@contextmanager
def journal_store(kind: str, *, url: str | None, fsync: bool) -> Iterator[JournalStore]:
    """The store ``kind`` names (``sqlite`` or ``postgres``), for the block."""
    if kind == "sqlite":
        yield JournalStore(kind, None, "SQLite file, WAL, synchronous=FULL")
        return
    if url is not None:
        store = JournalStore(kind, url, _server_settings(url, f"existing: {url.split('?')[0]}"))
        try:
            yield store
        finally:
            store.drop()
        return
    with running_server(fsync=fsync) as server:
        started = server.url()
        yield JournalStore(kind, started, _server_settings(started, "started by the bench"))
