"""Every component's tables, registered once, when the journal opens.

The jobs domain (``labd.journal``) owns the core tables and printing's; media, waste and
retention each own theirs (their module's ``SCHEMA``).  Whoever opens the journal for
labd (the daemon, the commands, the tests) opens it here, so a journal always has every
table the code may touch, and no constructor creates or migrates anything.

Only the daemon migrates: the commands open the journal without migrating and refuse one
whose schema is older or newer than the code, saying what to do.
"""

from __future__ import annotations

from typing import Final

from labd.clock import Clock
from labd.journal import PRINTING_SCHEMA, Journal
from labd.media import ledger as media
from labd.privacy import retention
from labd.store import Schema, StoreLocation
from labd.waste import ledger as waste

ALL: Final[tuple[Schema, ...]] = (PRINTING_SCHEMA, media.SCHEMA, waste.SCHEMA, retention.SCHEMA)


def open_journal(
    path: StoreLocation,
    clock: Clock | None = None,
    *,
    create: bool = True,
    migrate: bool = True,
    busy_timeout_ms: int | None = None,
) -> Journal:
    """The journal at ``path`` (a SQLite file, or a PostgreSQL database) with every
    component's tables (see the module's docstring)."""
    return Journal.open(
        path,
        clock,
        create=create,
        migrate=migrate,
        schemas=ALL,
        busy_timeout_ms=busy_timeout_ms,
    )
