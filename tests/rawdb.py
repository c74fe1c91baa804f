"""Another program's connection to a journal's database, beside labd's: what a tamperer,
a second writer or a supervisor's SQL client sees and does, on either backend.

Not a fake: a second real connection (sqlite3 to the same file, psycopg to the same
PostgreSQL schema), in autocommit, with ``?`` placeholders on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

import psycopg

from labd.journal import JournalView
from labd.store import PostgresLocation, SQLiteStore, StoreLocation
from labd.store.postgres import WRITE_LOCK, PostgresStore, pg_sql

# Any error either driver raises (for pytest.raises around a raw statement).
DRIVER_ERRORS: Final = (sqlite3.DatabaseError, psycopg.Error)

# What each backend says when a constraint refuses a write (for pytest.raises(match=...)).
REFUSALS: Final = {
    "unique": "UNIQUE constraint failed|duplicate key value violates unique constraint",
    "foreign-key": "FOREIGN KEY constraint failed|violates foreign key constraint",
    "not-null": "NOT NULL constraint failed|violates not-null constraint",
    "locked": "database is locked|lock timeout",
}


def location_of(journal: JournalView) -> StoreLocation:
    """Where ``journal`` is, to open it again (with other settings)."""
    store = journal.store
    if isinstance(store, PostgresStore):
        return store.location
    assert isinstance(store, SQLiteStore)
    return store.path


def is_postgres(journal: JournalView) -> bool:
    """Whether ``journal`` lives in PostgreSQL."""
    return isinstance(journal.store, PostgresStore)


class RawDB:
    """A second connection to the database of ``journal``, in autocommit."""

    def __init__(self, journal: JournalView) -> None:
        self.postgres = is_postgres(journal)
        where = location_of(journal)
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[tuple[object, ...]] | None = None
        if isinstance(where, PostgresLocation):
            self._pg = psycopg.connect(where.url, autocommit=True)
        else:
            self._sqlite = sqlite3.connect(where, isolation_level=None)

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run one statement; the rows it gives (none for a write)."""
        if self._sqlite is not None:
            return list(self._sqlite.execute(sql, tuple(args)).fetchall())
        assert self._pg is not None
        cur = self._pg.execute(pg_sql(sql), tuple(args))
        return list(cur.fetchall()) if cur.description else []

    def column(self, sql: str, args: Sequence[object] = ()) -> list[object]:
        """The first column of the rows ``sql`` gives."""
        return [r[0] for r in self.rows(sql, args)]

    def tables(self) -> list[str]:
        """Every table of the journal."""
        if self.postgres:
            sql = (
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        return [str(t) for t in self.column(sql)]

    def everything(self) -> str:
        """Every value in every table, as text: what a query of the whole database finds."""
        return "\n".join(
            repr(row)
            for table in self.tables()
            for row in self.rows(f"SELECT * FROM {table}")  # noqa: S608  # the database's own names
        )

    def drop_append_only_triggers(self) -> None:
        """What a tamperer with the database's owner's rights would do first."""
        for name in ("events_append_only_update", "events_append_only_delete"):
            self.rows(f"DROP TRIGGER {name}" + (" ON events" if self.postgres else ""))

    @contextmanager
    def holding_the_write_lock(self) -> Iterator[None]:
        """Another writer in the middle of its transaction, for the block."""
        if self._sqlite is not None:
            self._sqlite.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                self._sqlite.execute("ROLLBACK")
            return
        assert self._pg is not None
        self._pg.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        try:
            yield
        finally:
            self._pg.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))

    def close(self) -> None:
        """Close the connection."""
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()

    def __enter__(self) -> RawDB:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
