"""labd's storage: the only package that speaks to the database drivers.

- :mod:`labd.store.base`: what every backend gives the domains (:class:`Store`,
  :class:`Tx`, :class:`Row`, :class:`Schema`, the :class:`Dialect` of the few spellings
  that differ).
- :mod:`labd.store.sqlite`: the SQLite file of one print server (the default): WAL,
  ``synchronous=FULL``, secure delete.
- :mod:`labd.store.postgres`: a PostgreSQL database shared by several print servers
  (:mod:`labd.store.location` names it without loading the driver).
- :mod:`labd.store.chain`: the hash-chained, append-only event log.

The domains (jobs, printing, media, waste, privacy) keep their own tables and SQL and
reach the database only through a :class:`Store` and its :class:`Tx`; :func:`open_store`
opens the one a configuration names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labd.clock import Clock
from labd.store.base import Dialect, Row, Schema, Store, Tx
from labd.store.chain import GENESIS, ChainCheck, event_hash, personal_ref
from labd.store.location import PostgresLocation
from labd.store.sqlite import BUSY_TIMEOUT_MS, SQLiteStore, storage_error

__all__ = [
    "BUSY_TIMEOUT_MS",
    "GENESIS",
    "ChainCheck",
    "Dialect",
    "PostgresLocation",
    "Row",
    "SQLiteStore",
    "Schema",
    "Store",
    "StoreLocation",
    "Tx",
    "event_hash",
    "open_store",
    "personal_ref",
    "storage_error",
]

# Where a journal is: the SQLite file's path, or a PostgreSQL database.
StoreLocation = Path | PostgresLocation


def open_store(
    where: StoreLocation,
    clock: Clock | None = None,
    *,
    core: Sequence[tuple[str, ...]] = (),
    schemas: Sequence[Schema] = (),
    create: bool = True,
    migrate: bool = True,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> Store:
    """Open the journal at ``where`` (``create``: a SQLite file that does not exist yet)."""
    if isinstance(where, PostgresLocation):
        # Imported here: the driver takes a command 0.16 s to load, and most never need it.
        from labd.store.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore.open(
            where,
            clock,
            core=core,
            schemas=schemas,
            migrate=migrate,
            busy_timeout_ms=busy_timeout_ms,
        )
    return SQLiteStore.open(
        where,
        clock,
        core=core,
        schemas=schemas,
        create=create,
        migrate=migrate,
        busy_timeout_ms=busy_timeout_ms,
    )
