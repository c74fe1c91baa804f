"""labd's storage: the only package that speaks to the database driver.

- :mod:`labd.store.sqlite`: the SQLite backend (one WAL file, ``synchronous=FULL``):
  transactions and savepoints, durability levels (``relaxed``, ``batch``), migrations of
  the core and of each component's :class:`Schema`, rows as :class:`Row`, and labd's own
  errors for every driver error.
- :mod:`labd.store.chain`: the hash-chained, append-only event log.

The domains (jobs, printing, media, waste, privacy) keep their own tables and SQL and
reach the database only through a :class:`Store` and its :class:`Tx`.
"""

from labd.store.chain import GENESIS, ChainCheck, event_hash, personal_ref
from labd.store.sqlite import Row, Schema, Store, Tx, storage_error

__all__ = [
    "GENESIS",
    "ChainCheck",
    "Row",
    "Schema",
    "Store",
    "Tx",
    "event_hash",
    "personal_ref",
    "storage_error",
]
