"""Every component's tables, registered once, when the journal opens.

The jobs domain (``labd.journal``) owns the core tables and printing's; media, waste and
retention each own theirs (their module's ``SCHEMA``).  Whoever opens the journal for
labd (the daemon, the commands, the tests) opens it here, so a journal always has every
table the code may touch, and no constructor creates or migrates anything.

Only the daemon migrates: the commands open the journal without migrating and refuse one
whose schema is older or newer than the code, saying what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from labd.alerts import outbox as alerts
from labd.clock import Clock
from labd.journal import NODES_SCHEMA, PRINTING_SCHEMA, Journal
from labd.media import ledger as media
from labd.privacy import retention
from labd.store import Schema, StoreLocation
from labd.waste import ledger as waste
from labd.web import accounts as web_accounts
from labd.web import tokens as web_tokens

if TYPE_CHECKING:
    from labd.config import Config

ALL: Final[tuple[Schema, ...]] = (
    PRINTING_SCHEMA,
    NODES_SCHEMA,
    media.SCHEMA,
    waste.SCHEMA,
    retention.SCHEMA,
    alerts.SCHEMA,
    web_accounts.SCHEMA,
    web_tokens.SCHEMA,
)


def open_journal(
    path: StoreLocation,
    clock: Clock | None = None,
    *,
    create: bool = True,
    migrate: bool = True,
    busy_timeout_ms: int | None = None,
    node: str | None = None,
) -> Journal:
    """The journal at ``path`` (a SQLite file, or a PostgreSQL database) with every
    component's tables (see the module's docstring); ``node``: this server's name."""
    return Journal.open(
        path,
        clock,
        create=create,
        migrate=migrate,
        schemas=ALL,
        busy_timeout_ms=busy_timeout_ms,
        node=node,
    )


def open_configured(
    config: Config,
    clock: Clock | None = None,
    *,
    create: bool = True,
    migrate: bool = True,
    own_jobs: bool = False,
) -> Journal:
    """The journal ``config`` names, opened as its node.

    ``own_jobs`` (the daemon): in a journal several servers share, the job queries return
    this node's jobs alone, so that it never follows, reconciles, recovers or purges
    another node's.  A SQLite journal is one server's: every job in it is its own.
    """
    journal = open_journal(
        config.journal_location, clock, create=create, migrate=migrate, node=config.journal.node
    )
    if own_jobs and config.journal.postgres is not None:
        journal.scope = config.journal.node
    return journal
